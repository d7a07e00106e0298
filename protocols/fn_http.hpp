// Fn's legacy http format: HTTP/1.1 requests back to back on stdin, responses on stdout. The
// request mapping is a pure function so unit tests reach it.
#pragma once

#include <string>
#include <string_view>

#include "hotwrap/config.hpp"
#include "hotwrap/env.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/http_exchange.hpp"

namespace hotwrap {

// One request of the http format as a call. The agent's `Fn_call_id`, `Fn_deadline`, `Fn_method`
// and `Fn_request_url` headers (underscores, case-insensitive) become FN_CALL_ID, FN_DEADLINE,
// FN_METHOD and FN_REQUEST_URL; every other header maps as in http-stream (Content-Type →
// FN_CONTENT_TYPE, Fn-Http-H-X → FN_HTTP_H_X, ...) in the route's request. The deadline is
// Fn_deadline (else Fn-Deadline); the call id Fn_call_id (else Fn-Call-Id).
Route route_http_request(const RequestHead& head, const Config& config);

// The value of the FN_LOGFRAME_HDR header for the log frame; Fn-Call-Id falls back to the
// agent's Fn_call_id, which is how this format carries it.
std::string_view http_logframe_value(const RequestHead& head, std::string_view logframe_hdr);

}  // namespace hotwrap
