// AWS Lambda's Runtime API, the pure parts (no loop, no process): base64, the HTTP events of API
// Gateway (payload 1.0 and 2.0) and function URLs decoded into a request as the http contract
// gives it, the answers to them, the streamed answer's prelude, and the error object with its
// types. Unit tests and fuzz_lambda_event drive these directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "hotwrap/http.hpp"
#include "hotwrap/reply.hpp"
#include "hotwrap/runner.hpp"

namespace hotwrap {

// The Runtime API's limits: a buffered response (and a synchronous event) is at most 6 MB.
inline constexpr size_t kLambdaBufferedLimit = 6u << 20;

// RFC 4648 base64, standard alphabet, padded.
std::string base64_encode(std::string_view bytes);
// Standard or URL-safe alphabet, padding optional; nullopt for anything else (a stray byte, a
// length no encoding has).
std::optional<std::string> base64_decode(std::string_view text);
// Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view bytes);

// Which HTTP event an event is. V2 covers API Gateway HTTP APIs (payload 2.0) and function URLs,
// which share the shape.
enum class HttpShape { None, V1, V2 };

struct HttpEvent {
  HttpShape shape = HttpShape::None;
  RequestHead head;       // method, path?query, headers (repeated ones as separate fields)
  std::string body;       // base64-decoded when the event says isBase64Encoded
  std::string source_ip;  // the caller's address, as requestContext gives it; "" when absent
};

// The event's shape: V2 for `"version":"2.0"` with requestContext.http.method, V1 for a string
// `httpMethod` with a string `path`; None for anything else (not JSON, another event).
HttpShape http_shape(std::string_view event);

// Decodes an HTTP event: one of shape None when the event is none (raw), or an error when
// `forced` (HOTWRAP_LAMBDA_EVENT=http). The error says what is wrong (a body whose base64 does
// not decode, a method that is not a token, a field of the wrong type).
std::expected<HttpEvent, std::string> decode_http_event(std::string_view event, bool forced);

// The buffered answer to an HTTP event: {"statusCode","headers","body","isBase64Encoded"} (plus
// "cookies" (V2) or "multiValueHeaders" (V1) for Set-Cookie and other repeated headers), with the
// status, headers and Content-Type of `verdict` and `body` as the body, base64 when it is not
// valid UTF-8.
std::string http_answer(HttpShape shape, const Verdict& verdict, std::string_view body);
// The streamed answer's prelude: {"statusCode","headers"[,"cookies"]} then eight NUL bytes; the
// body follows as it is (Content-Type application/vnd.awslambda.http-integration-response).
std::string http_stream_prelude(const Verdict& verdict);
inline constexpr const char* kHttpIntegrationType =
    "application/vnd.awslambda.http-integration-response";

// Lambda-Runtime-Function-Error-Type for a failed call: Runtime.ExitError (a non-zero exit or a
// signal), Runtime.InvalidEntrypoint (the command cannot be run), Runtime.Timeout (its deadline),
// Runtime.Shutdown (hotwrap's shutdown ended it), Runtime.BadOutput (HOTWRAP_CGI=1 and a broken
// CGI header block).
const char* lambda_error_type(const Outcome& outcome);
// {"errorMessage": message, "errorType": type, "stackTrace": [lines of `trace`]}; bytes that are
// not UTF-8 become U+FFFD.
std::string lambda_error_json(std::string_view type, std::string_view message,
                              std::string_view trace);

// Lambda-Runtime-Deadline-Ms as an instant; nullopt when it is not a number of milliseconds
// since 1970 after 2001 (@vercel/fun sends the constant 5000: no deadline at all).
std::optional<int64_t> lambda_deadline_ms(std::string_view text);

}  // namespace hotwrap
