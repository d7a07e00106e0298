// HTTP/1.1 both ways: requests and responses parsed (llhttp, incremental, callbacks that only
// record), request and response heads written. Servers (http-stream over the socket, http over
// stdio) parse requests and write responses; a client (a long poll to a platform's API) writes
// requests and parses responses.
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <initializer_list>
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

// The first value of `name` (case-insensitive) among `headers`, or nullptr.
const std::string* find_header(std::span<const Header> headers, std::string_view name);

// A header name that may be written: a non-empty RFC 9110 token.
bool valid_header_name(std::string_view name);
// A header value that may be written: no control byte but HTAB (no CR, LF or NUL: a value cannot
// end the field, inject another, or be cut short).
bool valid_header_value(std::string_view value);

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

struct ResponseHead {
  int status = 0;
  std::string reason;
  std::vector<Header> headers;
  bool http11 = true;

  // The first value of `name` (case-insensitive), or nullptr.
  const std::string* find(std::string_view name) const;
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

// Why a response could not be read. Any of them ends the connection.
enum class ResponseError {
  None,
  Malformed,        // not HTTP/1.x, or cut short by EOF
  HeadersTooLarge,  // bytes (reason phrase, fields and trailers) or count
  BodyTooLarge,
};

struct RequestLimits {
  uint64_t max_url_bytes = 8 << 10;
  uint64_t max_header_bytes = 64 << 10;
  uint64_t max_headers = 200;
  uint64_t max_body_bytes = 0;  // 0: no limit
};

struct ResponseLimits {
  uint64_t max_header_bytes = 64 << 10;  // reason phrase, fields and trailers together
  uint64_t max_headers = 200;            // fields in the head, and again in the trailers
  uint64_t max_body_bytes = 0;           // 0: no limit
};

// What the request and response parsers share: llhttp driven one message at a time, header
// fields recorded under limits, body pieces as views, and the first error with its stream offset.
// Not used on its own.
class MessageParser {
 public:
  struct Step {
    size_t consumed = 0;  // bytes of the input used; after an end, the rest is the next message's
    bool head = false;    // head() became complete during this step
    bool end = false;     // the message is complete
    bool error = false;   // error() says why; the stream cannot be used further
  };

  MessageParser(const MessageParser&) = delete;
  MessageParser& operator=(const MessageParser&) = delete;

  // The body bytes the last feed() (or finish()) found, as views into its input.
  std::span<const std::string_view> body() const { return body_; }
  // Whether the connection may carry another message after the last complete one.
  bool keep_alive() const { return keep_alive_; }
  // llhttp's reason, or our limit's, for logs.
  const std::string& error_reason() const { return reason_; }
  // Where the error was found, in bytes of the stream since the parser was made (for logs: the
  // stdio formats have no connection to close, only a stream position to point at).
  uint64_t error_offset() const { return error_offset_; }
  // True once any byte of the current message has been seen.
  bool in_message() const { return in_message_; }

 protected:
  // RequestError and ResponseError together; each parser reports its own.
  enum class Fault { None, Malformed, UrlTooLong, HeadersTooLarge, BodyTooLarge };
  struct Limits {
    uint64_t max_header_bytes;
    uint64_t max_headers;
    uint64_t max_body_bytes;
  };

  // `noun` ("request", "response") names the message in limit reasons.
  MessageParser(llhttp_type_t type, const char* noun, Limits limits);
  ~MessageParser() = default;

  Step run(std::string_view in);
  // Records the end of the stream in the middle of a message as the error.
  void cut_short(const char* reason);
  int refuse(Fault f, const char* reason);
  // The reason is `before` + noun + `after`, e.g. "more " "request" " headers than the limit".
  int refuse_limit(Fault f, const char* before, const char* after);
  // Resets the per-message state; header fields then go to `fields`.
  void begin_message(std::vector<Header>* fields);
  // After the head: a declared body over the limit is refused (-1), else fields go to `trailers`
  // (nullptr: dropped).
  int end_head(std::vector<Header>* trailers);
  static MessageParser& base(llhttp_t* p) { return *static_cast<MessageParser*>(p->data); }
  static int on_header_field(llhttp_t* p, const char* at, size_t n);
  static int on_header_value(llhttp_t* p, const char* at, size_t n);
  static int on_header_value_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, size_t n);
  static int on_message_complete(llhttp_t* p);
  bool count_header_bytes(size_t n);

  Limits limits_;
  const char* noun_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  // The fields of the message so far are the first used_ of *fields_; those after them are the
  // previous message's, reused, until end_fields() drops them.
  void end_fields() {
    if (fields_ != nullptr) fields_->resize(used_);
  }
  std::vector<Header>* fields_ = nullptr;  // where header fields go now; nullptr: dropped
  size_t used_ = 0;
  std::string field_;
  std::string value_;
  std::vector<std::string_view> body_;
  uint64_t header_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  uint64_t offset_ = 0;  // bytes consumed by earlier feed() calls
  uint64_t error_offset_ = 0;
  Fault fault_ = Fault::None;
  std::string reason_;
  bool in_message_ = false;
  bool keep_alive_ = true;
  bool head_done_ = false;
};

// Parses one request at a time from a byte stream. feed() stops at the end of a message, so the
// owner decides when the next message may start (one call at a time per connection).
class RequestParser : public MessageParser {
 public:
  explicit RequestParser(RequestLimits limits);

  // For a stream that is not a connection (requests on stdin): `Connection: close` and HTTP/1.0
  // requests do not end it, later requests are parsed as usual.
  void keep_parsing_after_close();

  Step feed(std::string_view in) { return run(in); }
  // The input ended (EOF): true when it ended cleanly between messages, false (with error()) when
  // it cut a message short.
  bool finish();

  // The request's head, once a step has reported `head` (before that, its headers may still be
  // the previous request's).
  const RequestHead& head() const { return head_; }
  RequestError error() const;

 private:
  static int on_message_begin(llhttp_t* p);
  static int on_url(llhttp_t* p, const char* at, size_t n);
  static int on_headers_complete(llhttp_t* p);
  static RequestParser& self(llhttp_t* p) { return static_cast<RequestParser&>(base(p)); }

  uint64_t max_url_bytes_;
  RequestHead head_;
};

// Parses the responses to a client's requests, one at a time, from a connection's byte stream.
// The client never sends HEAD, so a response's framing alone says where its body ends: 1xx, 204
// and 304 have none, then Transfer-Encoding: chunked, then Content-Length, else the body runs to
// EOF (finish()). 1xx interim responses (100 Continue) are skipped: feed() reports only the final
// response. A 101 is an error: the client never asks for an upgrade. So is a field name that is
// not a token (llhttp lets spaces through), as Go's client refuses it.
class ResponseParser : public MessageParser {
 public:
  explicit ResponseParser(ResponseLimits limits);

  // Like RequestParser::feed(): stops at the end of each (final) response.
  Step feed(std::string_view in) { return run(in); }
  // The connection reached EOF. end: that completed a body that runs to EOF (body() has nothing
  // new); error: it cut a response short; neither: it came between responses. The last call.
  Step finish();

  const ResponseHead& head() const { return head_; }
  // The trailer fields of a chunked body, complete once a step ends the message.
  const std::vector<Header>& trailers() const { return trailers_; }
  ResponseError error() const;

 private:
  static int on_message_begin(llhttp_t* p);
  static int on_status(llhttp_t* p, const char* at, size_t n);
  static int on_header_field_complete(llhttp_t* p);
  static int on_headers_complete(llhttp_t* p);
  static int on_message_complete(llhttp_t* p);
  static ResponseParser& self(llhttp_t* p) { return static_cast<ResponseParser&>(base(p)); }

  ResponseHead head_;
  std::vector<Header> trailers_;
  bool interim_ = false;  // the message being parsed is a 1xx, not reported
};

// The writers take names and values that pass valid_header_name() / valid_header_value() (checked
// by assert): callers check what comes from configuration once, at start-up.

// "HTTP/1.1 <status> <reason>\r\n" + headers + framing + "\r\n". `content_length` < 0 means
// chunked.
std::string response_head(int status, std::span<const Header> headers, int64_t content_length);
// The same, its header lines from several lists in order, then `Content-Type: <content_type>`:
// what an answer is made of (a protocol's common headers, the verdict's, its trailers when the
// body is whole), without copying them into one list first.
std::string response_head(int status, std::initializer_list<std::span<const Header>> header_lists,
                          std::string_view content_type, int64_t content_length);
const char* reason_phrase(int status);
// "<method> <target> HTTP/1.1\r\n" + headers (Host among them) + framing + "\r\n".
// `content_length` < 0 means chunked; 0 on a GET or HEAD writes no framing header, as a request
// without content whose method expects none should not (RFC 9110 8.6).
std::string request_head(std::string_view method, std::string_view target,
                         std::span<const Header> headers, int64_t content_length);
// "<hex size>\r\n" for a chunk of n bytes.
std::string chunk_header(size_t n);
// The end of a chunked body: the last chunk, then `trailers` (announced in a Trailer header of the
// head), then the blank line.
std::string chunk_trailer(std::span<const Header> trailers);

}  // namespace hotwrap
