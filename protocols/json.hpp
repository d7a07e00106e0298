// Fn's legacy json format: JSON request objects back to back on stdin, one JSON response object
// per call (and a newline) on stdout. The pure parts live here so that unit tests and fuzzers
// reach them without a loop or a process: the frame splitter, the request mapping and the
// response encoding.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/deadline.hpp"
#include "hotwrap/env.hpp"
#include "hotwrap/http.hpp"

namespace hotwrap {

// Splits a byte stream into JSON objects sent back to back (`{..}{..}`, whitespace between them
// optional) in one pass over arbitrary read splits, checking JSON's grammar as the bytes arrive
// (structure, strings, escapes, numbers, literals; not UTF-8, nor duplicate keys), so that
// `{not json` is refused at its first impossible byte instead of when the input ends. Each frame
// is parsed whole afterwards; one that breaks a rule the splitter does not check (invalid UTF-8)
// still has a known end and is refused alone.
class JsonFrameSplitter {
 public:
  enum class Error {
    None,
    // Between frames, a byte that is neither JSON whitespace nor '{'. Fatal: with no frame
    // boundary to resume from, nothing after it can be trusted.
    NotAnObject,
    // The frame passed the size limit. Not fatal: it is skipped to its end (its bytes are not
    // kept) and reported as a frame with frame_error() == TooLarge.
    TooLarge,
    // finish(): the input ended inside a frame.
    Truncated,
    // Inside a frame, a byte JSON does not allow there. Fatal, like NotAnObject.
    Invalid,
  };

  struct Step {
    size_t consumed = 0;  // bytes of the input used; a step stops right after a frame's last byte
    bool frame = false;   // a frame ended: frame(), frame_error(), frame_offset() describe it
    bool fatal = false;   // error() and error_message() say why; nothing more can be split
  };

  explicit JsonFrameSplitter(uint64_t max_frame_bytes);

  Step feed(std::string_view in);
  // The input ended: true when it ended between frames; false (Truncated) inside one.
  bool finish();

  // The frame the last Step ended (empty for a TooLarge frame); valid until the next feed().
  std::string_view frame() const { return frame_; }
  Error frame_error() const { return frame_error_; }
  // Where the last (or current) frame began, in bytes since the start of the stream.
  uint64_t frame_offset() const { return frame_offset_; }

  Error error() const { return error_; }
  uint64_t error_offset() const { return error_offset_; }
  // One line naming the problem and its byte offset, for frame_error() or error().
  std::string error_message() const;

  uint64_t offset() const { return offset_; }  // bytes consumed so far
  bool in_frame() const { return state_ != State::Between; }

 private:
  enum class State {
    Between,       // no frame: whitespace or '{'
    Value,         // a value must follow (after ':' or ',' in an array)
    KeyOrClose,    // after '{': a key or '}'
    Key,           // after ',' in an object: a key
    Colon,         // after a key
    AfterValue,    // ',' or the container's close
    ValueOrClose,  // after '[': a value or ']'
    String,
    Escape,
    Unicode,  // \uXXXX: hex_left_ digits to go
    Literal,  // true, false or null: literal_[literal_pos_] is next
    Number,
  };
  enum class Num { Minus, Zero, Int, Dot, Frac, E, ESign, Exp };
  // Consumes `c` at position `i` of the input; false: invalid (error recorded).
  bool step_byte(char c, uint64_t at, bool& frame_end);
  bool begin_value(char c, uint64_t at);
  bool close(char c, uint64_t at, bool& frame_end);
  bool invalid(uint64_t at, char c, const char* expected);

  uint64_t max_frame_bytes_;
  State state_ = State::Between;
  std::string stack_;  // '{' and '[' of the open containers
  bool key_ = false;   // the string being read is a key
  const char* literal_ = nullptr;
  size_t literal_pos_ = 0;
  Num num_ = Num::Int;
  int hex_left_ = 0;
  const char* expected_ = "";
  uint64_t offset_ = 0;
  uint64_t frame_offset_ = 0;
  uint64_t frame_bytes_ = 0;
  std::string frame_;
  Error frame_error_ = Error::None;
  Error error_ = Error::None;
  uint64_t error_offset_ = 0;
  unsigned char bad_byte_ = 0;
};

// The largest frame accepted: room for a body of HOTWRAP_MAX_BODY_BYTES fully escaped (\u00XX is
// six bytes a byte) plus headers; 64 MiB when the body is unlimited, since a json request must be
// held whole.
uint64_t json_frame_limit(uint64_t max_body_bytes, uint64_t max_header_bytes);

// One call decoded from a frame.
struct JsonCall {
  std::string id;
  CallEnv env;  // the call's FN_* variables
  std::optional<WallTime> deadline;
  std::string deadline_text;  // as the request gave it
  std::string body;
  bool trigger = false;        // Fn-Intent: httprequest among the headers
  std::string logframe_value;  // the value of the FN_LOGFRAME_HDR header, if asked for
  // keep_request only (the CGI variables are made of them): protocol.method, protocol.request_url
  // and protocol.headers, one Header per value.
  std::string method;
  std::string url;
  std::vector<Header> headers;
};

// Why a frame is refused: the status of the error response, and one line for it and the log.
struct JsonRefusal {
  int status;
  std::string message;
};

// Parses one frame (never throws) and maps it onto the call's environment: call_id → FN_CALL_ID,
// deadline → FN_DEADLINE, content_type → FN_CONTENT_TYPE, protocol.method → FN_METHOD,
// protocol.request_url → FN_REQUEST_URL, protocol.headers through CallEnv::add_header as
// http-stream maps them (Fn-Http-H-X → FN_HTTP_H_X, ...), each value of a header joined with ", ".
// A field present with the wrong type refuses the frame (502), and so does a body over
// `max_body_bytes` (413; 0: no limit). `frame_offset` is for messages. `keep_request`: JsonCall's
// method, url and headers are filled too.
std::expected<JsonCall, JsonRefusal> map_json_request(std::string_view frame, uint64_t frame_offset,
                                                      std::string_view logframe_hdr,
                                                      uint64_t max_body_bytes,
                                                      bool keep_request = false);

// Encodes bytes as the inside of a JSON string, incrementally: a UTF-8 sequence cut by a chunk
// boundary is held for the next chunk, and invalid UTF-8 becomes U+FFFD (as Fn itself delivers
// bodies), so the result is always valid JSON and does not depend on how the bytes were split.
class JsonStringEncoder {
 public:
  void append(std::string_view bytes, std::string& out);
  // The end of the string: a sequence still held is incomplete and becomes U+FFFD.
  void finish(std::string& out);

 private:
  void encode(std::string_view bytes, std::string& out);
  std::string held_;
};

// A response is `{"body":"` + the encoded body + json_response_tail(...): key order is free in
// JSON, so the status can follow a body that has already been streamed.
inline constexpr std::string_view kJsonResponseHead = "{\"body\":\"";
// `","content_type":...,"protocol":{"status_code":N,"headers":{"Name":["v"],...}}}` + "\n".
std::string json_response_tail(int status, std::string_view content_type,
                               const std::vector<Header>& headers);
// A whole response with `body` (raw bytes) as its body.
std::string json_response(std::string_view body, int status, std::string_view content_type,
                          const std::vector<Header>& headers);

// Why `text` is not exactly one JSON value (surrounding whitespace allowed): "invalid JSON at
// byte N: <reason>"; empty when it is one.
std::string json_value_error(std::string_view text);

}  // namespace hotwrap
