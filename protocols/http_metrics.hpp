// The http contract's requests as OpenFaaS's watchdogs count them, so its dashboards and
// autoscaling rules work unchanged: http_requests_total{code,method},
// http_request_duration_seconds{code,method} (Prometheus's default buckets) and
// http_requests_in_flight. The method label is lower-case, as of-watchdog's is; health and
// readiness checks (/_/*) are not counted; a caller that went away before its answer counts
// with code 499 (nginx's "client closed request").
#pragma once

#include <string>
#include <vector>

#include "hotwrap/metrics.hpp"
#include "protocols/http_contract.hpp"

namespace hotwrap {

class HttpMetrics final : public HttpObserver {
 public:
  explicit HttpMetrics(Registry& registry);

  void call_started() override { in_flight_.inc(); }
  void request_finished(int status, std::string_view method, std::chrono::microseconds took,
                        bool call) override;

 private:
  // One (code, method) pair's series, made on its first request: statuses and methods are
  // few (llhttp knows a fixed set of methods), so a linear scan finds them.
  struct Pair {
    int code;
    std::string method;
    Counter* total;
    Histogram* duration;
  };
  Registry& registry_;
  Gauge& in_flight_;
  std::vector<Pair> pairs_;
};

}  // namespace hotwrap
