#include "protocols/http_metrics.hpp"

#include <algorithm>

namespace hotwrap {

namespace {
// What a request counts as when its caller went away before the answer.
constexpr int kCallerGone = 499;
// Longer methods are not ones llhttp accepts; the label is bounded all the same.
constexpr size_t kMaxMethod = 16;
}  // namespace

HttpMetrics::HttpMetrics(Registry& registry)
    : registry_(registry),
      in_flight_(registry.gauge("http_requests_in_flight",
                                "Current number of HTTP requests being served by the function.")) {}

void HttpMetrics::request_finished(int status, std::string_view method,
                                   std::chrono::microseconds took, bool call) {
  if (call) in_flight_.dec();
  int code = status == 0 ? kCallerGone : status;
  char lower[kMaxMethod];
  size_t n = std::min(method.size(), kMaxMethod);
  for (size_t i = 0; i < n; ++i) {
    char c = method[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  std::string_view m(lower, n);
  Pair* pair = nullptr;
  for (Pair& p : pairs_) {
    if (p.code == code && p.method == m) {
      pair = &p;
      break;
    }
  }
  if (pair == nullptr) {
    std::string code_text = std::to_string(code);
    Label labels[] = {{"code", code_text}, {"method", m}};
    pair = &pairs_.emplace_back(Pair{
        code, std::string(m),
        &registry_.counter("http_requests_total", "Total HTTP requests processed by the function.",
                           labels),
        &registry_.histogram("http_request_duration_seconds",
                             "Seconds spent serving HTTP requests.", kDefaultBuckets, labels)});
  }
  pair->total->inc();
  pair->duration->observe(static_cast<double>(took.count()) / 1e6);
}

}  // namespace hotwrap
