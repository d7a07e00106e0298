#include "contracts/contract.hpp"

#include <string_view>

namespace hotwrap {

std::expected<std::unique_ptr<Contract>, std::string> select_contract(
    Runner& runner, const char* (*getenv_fn)(const char*)) {
  const char* format = getenv_fn("FN_FORMAT");
  const char* listener = getenv_fn("FN_LISTENER");
  std::string_view f = format != nullptr ? format : "";
  bool has_listener = listener != nullptr && *listener != '\0';
  if (f == "http-stream" || (f.empty() && has_listener)) {
    if (!has_listener) {
      return std::unexpected(std::string(
          "FN_FORMAT=http-stream needs FN_LISTENER=unix:/path/to/lsnr.sock (the Fn agent sets "
          "both)"));
    }
    return make_http_stream_contract(runner, listener);
  }
  return std::unexpected("unsupported FN_FORMAT '" + std::string(f) +
                         "': accepted values are http-stream, json, http and default");
}

}  // namespace hotwrap
