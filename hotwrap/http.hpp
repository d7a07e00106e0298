// HTTP/1.1 requests in (llhttp, incremental, callbacks that only record) and response heads out.
// Shared by the contracts that speak HTTP (http-stream over the socket, http over stdio).
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hotwrap {

struct Header {
  std::string name;
  std::string value;
};

// Case-insensitive ASCII comparison, for header names.
bool iequals(std::string_view a, std::string_view b);

struct RequestHead {
  std::string method;
  std::string url;
  std::vector<Header> headers;
  bool http11 = true;

  // The first value of `name` (case-insensitive), or nullptr.
  const std::string* find(std::string_view name) const;
  // The path of the URL, without the query.
  std::string_view path() const;
};

// Why a request was refused. Each maps to one status.
enum class RequestError {
  None,
  Malformed,        // 400
  UrlTooLong,       // 414
  HeadersTooLarge,  // 431 (bytes or count)
  BodyTooLarge,     // 413
};
int status_for(RequestError e);

struct RequestLimits {
  uint64_t max_url_bytes = 8 << 10;
  uint64_t max_header_bytes = 64 << 10;
  uint64_t max_headers = 200;
  uint64_t max_body_bytes = 0;  // 0: no limit
};

// Parses one request at a time from a byte stream. feed() stops at the end of a message, so the
// owner decides when the next message may start (one call at a time per connection).
class RequestParser {
 public:
  struct Step {
    size_t consumed = 0;  // bytes of the input used; after an end, the rest is the next message's
    bool head = false;    // head() became complete during this step
    bool end = false;     // the message is complete
    bool error = false;   // error() says why; the stream cannot be used further
  };

  explicit RequestParser(RequestLimits limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // For a stream that is not a connection (requests on stdin): `Connection: close` and HTTP/1.0
  // requests do not end it, later requests are parsed as usual.
  void keep_parsing_after_close();

  Step feed(std::string_view in);
  // The body bytes the last feed() found, as views into its input.
  std::span<const std::string_view> body() const { return body_; }
  // The input ended (EOF): true when it ended cleanly between messages, false (with error()) when
  // it cut a message short.
  bool finish();

  const RequestHead& head() const { return head_; }
  bool keep_alive() const { return keep_alive_; }
  RequestError error() const { return error_; }
  // llhttp's reason, or our limit's, for logs.
  const std::string& error_reason() const { return reason_; }
  // Where the error was found, in bytes of the stream since the parser was made (for logs: the
  // stdio formats have no connection to close, only a stream position to point at).
  uint64_t error_offset() const { return error_offset_; }
  // True once any byte of the current message has been seen.
  bool in_message() const { return in_message_; }

 private:
  static int on_message_begin(llhttp_t* p);
  static int on_url(llhttp_t* p, const char* at, size_t n);
  static int on_header_field(llhttp_t* p, const char* at, size_t n);
  static int on_header_value(llhttp_t* p, const char* at, size_t n);
  static int on_header_value_complete(llhttp_t* p);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, size_t n);
  static int on_message_complete(llhttp_t* p);
  static RequestParser& self(llhttp_t* p) { return *static_cast<RequestParser*>(p->data); }
  int refuse(RequestError e, const char* reason);
  bool count_header_bytes(size_t n);

  RequestLimits limits_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  RequestHead head_;
  std::string field_;
  std::string value_;
  std::vector<std::string_view> body_;
  uint64_t header_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  uint64_t offset_ = 0;  // bytes consumed by earlier feed() calls
  uint64_t error_offset_ = 0;
  RequestError error_ = RequestError::None;
  std::string reason_;
  bool in_message_ = false;
  bool in_trailers_ = false;  // the head is complete: header callbacks now carry trailer fields
  bool keep_alive_ = true;
  bool head_done_ = false;
};

// "HTTP/1.1 <status> <reason>\r\n" + headers + framing + "\r\n". `content_length` < 0 means
// chunked.
std::string response_head(int status, std::span<const Header> headers, int64_t content_length);
const char* reason_phrase(int status);
// "<hex size>\r\n" for a chunk of n bytes.
std::string chunk_header(size_t n);

}  // namespace hotwrap
