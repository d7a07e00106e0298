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
  if (f == "json") return make_json_contract(runner);
  if (f == "http") return make_http_contract(runner);
  if (f == "default" || f.empty()) {
    // The agent put the call's id and deadline in the container's environment.
    const char* id = getenv_fn("FN_CALL_ID");
    const char* deadline = getenv_fn("FN_DEADLINE");
    return make_default_contract(runner, id != nullptr ? id : "",
                                 deadline != nullptr && *deadline != '\0'
                                     ? std::optional<std::string>(deadline)
                                     : std::nullopt);
  }
  if (f == "cloudevent") {
    return std::unexpected(std::string(
        "FN_FORMAT=cloudevent is not supported by hotwrap: use http-stream (every Fn server "
        "since 0.3.603), or json, http or default"));
  }
  return std::unexpected("unsupported FN_FORMAT '" + std::string(f) +
                         "': accepted values are http-stream, json, http and default");
}

}  // namespace hotwrap
