#include "protocols/trace_context.hpp"

namespace hotwrap {

namespace {
constexpr size_t kTraceIdHex = 32;

// Hex digits, not all zero.
bool usable_hex(std::string_view s) {
  bool nonzero = false;
  for (char c : s) {
    bool digit = c >= '0' && c <= '9';
    if (!digit && !((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
    nonzero = nonzero || c != '0';
  }
  return nonzero;
}
}  // namespace

std::string http_trace_id(const RequestHead& head) {
  if (const std::string* v = head.find("traceparent");
      v != nullptr && v->size() >= 3 + kTraceIdHex + 1 && (*v)[2] == '-' &&
      (*v)[3 + kTraceIdHex] == '-') {
    std::string_view id = std::string_view(*v).substr(3, kTraceIdHex);
    if (usable_hex(id)) return std::string(id);
  }
  if (const std::string* v = head.find("X-Cloud-Trace-Context"); v != nullptr) {
    std::string_view id = std::string_view(*v).substr(0, v->find('/'));
    if (id.size() <= kTraceIdHex && usable_hex(id)) return std::string(id);
  }
  return {};
}

}  // namespace hotwrap
