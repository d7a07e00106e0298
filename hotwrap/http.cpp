#include "hotwrap/http.hpp"

#include <cassert>
#include <cstdio>

namespace hotwrap {

namespace {
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim_trailing(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // Pointers, not a[i]: every header lookup of every request comes here.
  const char* p = a.data();
  const char* q = b.data();
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(p[i]) != lower(q[i])) return false;
  }
  return true;
}

const std::string* find_header(std::span<const Header> headers, std::string_view name) {
  for (const Header& h : headers) {
    if (iequals(h.name, name)) return &h.value;
  }
  return nullptr;
}

bool valid_header_name(std::string_view name) {
  // RFC 9110 5.6.2: token = 1*tchar.
  static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  if (name.empty()) return false;
  for (char c : name) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && kSymbols.find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool valid_header_value(std::string_view value) {
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

const std::string* RequestHead::find(std::string_view name) const {
  return find_header(headers, name);
}

std::string_view RequestHead::path() const {
  std::string_view u = url;
  return u.substr(0, u.find('?'));
}

const std::string* ResponseHead::find(std::string_view name) const {
  return find_header(headers, name);
}

int status_for(RequestError e) {
  switch (e) {
    case RequestError::None: return 200;
    case RequestError::Malformed: return 400;
    case RequestError::UrlTooLong: return 414;
    case RequestError::HeadersTooLarge: return 431;
    case RequestError::BodyTooLarge: return 413;
  }
  return 400;
}

// ---- MessageParser ----

MessageParser::MessageParser(llhttp_type_t type, const char* noun, Limits limits)
    : limits_(limits), noun_(noun) {
  llhttp_settings_init(&settings_);
  settings_.on_header_field = &MessageParser::on_header_field;
  settings_.on_header_value = &MessageParser::on_header_value;
  settings_.on_header_value_complete = &MessageParser::on_header_value_complete;
  settings_.on_body = &MessageParser::on_body;
  settings_.on_message_complete = &MessageParser::on_message_complete;
  // llhttp keeps a pointer to settings_: the derived parser adds its callbacks before any feed().
  llhttp_init(&parser_, type, &settings_);
  parser_.data = this;
}

MessageParser::Step MessageParser::run(std::string_view in) {
  Step step;
  body_.clear();
  if (fault_ != Fault::None) {
    step.error = true;
    return step;
  }
  head_done_ = false;
  llhttp_errno_t err = llhttp_execute(&parser_, in.data(), in.size());
  step.head = head_done_;
  if (err == HPE_OK) {
    step.consumed = in.size();
  } else if (err == HPE_PAUSED) {
    // Paused by on_message_complete: the message ends exactly here.
    step.consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - in.data());
    step.end = true;
    llhttp_resume(&parser_);
  } else {
    if (fault_ == Fault::None) {
      fault_ = Fault::Malformed;
      reason_ = std::string(llhttp_errno_name(err)) + ": " + llhttp_get_error_reason(&parser_);
    }
    const char* pos = llhttp_get_error_pos(&parser_);
    bool inside = pos != nullptr && pos >= in.data() && pos <= in.data() + in.size();
    error_offset_ = offset_ + (inside ? static_cast<size_t>(pos - in.data()) : 0);
    step.error = true;
  }
  offset_ += step.consumed;
  return step;
}

void MessageParser::cut_short(const char* reason) {
  error_offset_ = offset_;
  fault_ = Fault::Malformed;
  reason_ = reason;
}

int MessageParser::refuse(Fault f, const char* reason) {
  fault_ = f;
  reason_ = reason;
  llhttp_set_error_reason(&parser_, reason);
  return HPE_USER;
}

int MessageParser::refuse_limit(Fault f, const char* before, const char* after) {
  // reason_ is stable until the parser dies, so llhttp may keep pointing at it.
  fault_ = f;
  reason_ = std::string(before) + noun_ + after;
  llhttp_set_error_reason(&parser_, reason_.c_str());
  return HPE_USER;
}

bool MessageParser::count_header_bytes(size_t n) {
  header_bytes_ += n;
  return header_bytes_ <= limits_.max_header_bytes;
}

void MessageParser::begin_message(std::vector<Header>* fields) {
  fields_ = fields;
  used_ = 0;
  field_.clear();
  value_.clear();
  header_bytes_ = 0;
  body_bytes_ = 0;
  in_message_ = true;
}

int MessageParser::end_head(std::vector<Header>* trailers) {
  if (limits_.max_body_bytes != 0 && (parser_.flags & F_CONTENT_LENGTH) != 0 &&
      parser_.content_length > limits_.max_body_bytes) {
    refuse_limit(Fault::BodyTooLarge, "", " body larger than the limit");
    return -1;
  }
  head_done_ = true;
  end_fields();
  fields_ = trailers;
  used_ = 0;
  return 0;
}

int MessageParser::on_header_field(llhttp_t* p, const char* at, size_t n) {
  MessageParser& s = base(p);
  if (!s.count_header_bytes(n)) {
    return s.refuse_limit(Fault::HeadersTooLarge, "", " headers larger than the limit");
  }
  s.field_.append(at, n);
  return 0;
}

int MessageParser::on_header_value(llhttp_t* p, const char* at, size_t n) {
  MessageParser& s = base(p);
  if (!s.count_header_bytes(n)) {
    return s.refuse_limit(Fault::HeadersTooLarge, "", " headers larger than the limit");
  }
  s.value_.append(at, n);
  return 0;
}

int MessageParser::on_header_value_complete(llhttp_t* p) {
  MessageParser& s = base(p);
  if (s.fields_ != nullptr) {
    if (s.used_ >= s.limits_.max_headers) {
      return s.refuse_limit(Fault::HeadersTooLarge, "more ", " headers than the limit");
    }
    // Into the strings the previous message left, where there are some: a kept-alive
    // connection's requests mostly carry the same headers, and then none of them allocates.
    if (s.used_ < s.fields_->size()) {
      Header& h = (*s.fields_)[s.used_];
      h.name.assign(s.field_);
      h.value.assign(trim_trailing(s.value_));
    } else {
      s.fields_->push_back({s.field_, std::string(trim_trailing(s.value_))});
    }
    ++s.used_;
  }
  s.field_.clear();
  s.value_.clear();
  return 0;
}

int MessageParser::on_body(llhttp_t* p, const char* at, size_t n) {
  MessageParser& s = base(p);
  s.body_bytes_ += n;
  if (s.limits_.max_body_bytes != 0 && s.body_bytes_ > s.limits_.max_body_bytes) {
    return s.refuse_limit(Fault::BodyTooLarge, "", " body larger than the limit");
  }
  s.body_.emplace_back(at, n);
  return 0;
}

int MessageParser::on_message_complete(llhttp_t* p) {
  MessageParser& s = base(p);
  s.end_fields();
  s.keep_alive_ = llhttp_should_keep_alive(p) != 0;
  s.in_message_ = false;
  return HPE_PAUSED;
}

// ---- RequestParser ----

RequestParser::RequestParser(RequestLimits limits)
    : MessageParser(HTTP_REQUEST, "request",
                    {limits.max_header_bytes, limits.max_headers, limits.max_body_bytes}),
      max_url_bytes_(limits.max_url_bytes) {
  settings_.on_message_begin = &RequestParser::on_message_begin;
  settings_.on_url = &RequestParser::on_url;
  settings_.on_headers_complete = &RequestParser::on_headers_complete;
}

void RequestParser::keep_parsing_after_close() {
  llhttp_set_lenient_keep_alive(&parser_, 1);
}

bool RequestParser::finish() {
  if (fault_ != Fault::None) return false;
  if (!in_message_) return true;
  cut_short("connection closed in the middle of a request");
  return false;
}

RequestError RequestParser::error() const {
  switch (fault_) {
    case Fault::None: return RequestError::None;
    case Fault::Malformed: return RequestError::Malformed;
    case Fault::UrlTooLong: return RequestError::UrlTooLong;
    case Fault::HeadersTooLarge: return RequestError::HeadersTooLarge;
    case Fault::BodyTooLarge: return RequestError::BodyTooLarge;
  }
  return RequestError::Malformed;
}

int RequestParser::on_message_begin(llhttp_t* p) {
  RequestParser& s = self(p);
  // Cleared, not replaced: the strings keep their storage for this request (begin_message).
  s.head_.method.clear();
  s.head_.url.clear();
  s.head_.http11 = true;
  s.begin_message(&s.head_.headers);
  return 0;
}

int RequestParser::on_url(llhttp_t* p, const char* at, size_t n) {
  RequestParser& s = self(p);
  if (s.head_.url.size() + n > s.max_url_bytes_) {
    return s.refuse(Fault::UrlTooLong, "request URL longer than the limit");
  }
  s.head_.url.append(at, n);
  return 0;
}

int RequestParser::on_headers_complete(llhttp_t* p) {
  RequestParser& s = self(p);
  s.head_.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  s.head_.http11 = p->http_major == 1 && p->http_minor >= 1;
  // A chunked body's trailers are dropped: the call started from the head, and whether a trailer
  // came in the same read must not change what the call sees (their bytes still count against
  // the header limit).
  return s.end_head(nullptr);
}

// ---- ResponseParser ----

ResponseParser::ResponseParser(ResponseLimits limits)
    : MessageParser(HTTP_RESPONSE, "response",
                    {limits.max_header_bytes, limits.max_headers, limits.max_body_bytes}) {
  settings_.on_message_begin = &ResponseParser::on_message_begin;
  settings_.on_status = &ResponseParser::on_status;
  settings_.on_header_field_complete = &ResponseParser::on_header_field_complete;
  settings_.on_headers_complete = &ResponseParser::on_headers_complete;
  settings_.on_message_complete = &ResponseParser::on_message_complete;
}

MessageParser::Step ResponseParser::finish() {
  Step step;
  body_.clear();
  if (fault_ != Fault::None) {
    step.error = true;
    return step;
  }
  if (!in_message_) return step;
  // A body that runs to EOF ends here: llhttp calls on_message_complete, which pauses. Anything
  // else (a head, a counted or chunked body, the gap after a 1xx) was cut short.
  if (llhttp_finish(&parser_) == HPE_PAUSED && !in_message_) {
    step.end = true;
    return step;
  }
  cut_short("connection closed in the middle of a response");
  step.error = true;
  return step;
}

ResponseError ResponseParser::error() const {
  switch (fault_) {
    case Fault::None: return ResponseError::None;
    case Fault::HeadersTooLarge: return ResponseError::HeadersTooLarge;
    case Fault::BodyTooLarge: return ResponseError::BodyTooLarge;
    case Fault::Malformed:
    case Fault::UrlTooLong: return ResponseError::Malformed;
  }
  return ResponseError::Malformed;
}

int ResponseParser::on_message_begin(llhttp_t* p) {
  ResponseParser& s = self(p);
  s.head_ = ResponseHead{};
  s.trailers_.clear();
  s.interim_ = false;
  s.begin_message(&s.head_.headers);
  return 0;
}

int ResponseParser::on_status(llhttp_t* p, const char* at, size_t n) {
  ResponseParser& s = self(p);
  if (!s.count_header_bytes(n)) {
    return s.refuse_limit(Fault::HeadersTooLarge, "", " headers larger than the limit");
  }
  s.head_.reason.append(at, n);
  return 0;
}

int ResponseParser::on_header_field_complete(llhttp_t* p) {
  ResponseParser& s = self(p);
  // llhttp 8 accepts "Fo o: x" in any message; a name with a space could not be written again
  // (valid_header_name) and may be read as another field by the next hop.
  if (!valid_header_name(s.field_)) {
    return s.refuse(Fault::Malformed, "response header name is not a token");
  }
  return 0;
}

int ResponseParser::on_headers_complete(llhttp_t* p) {
  ResponseParser& s = self(p);
  s.head_.status = p->status_code;
  s.head_.http11 = p->http_major == 1 && p->http_minor >= 1;
  if (p->status_code == 101) {
    s.refuse(Fault::Malformed, "101 Switching Protocols, but no upgrade was asked for");
    return -1;
  }
  if (p->status_code / 100 == 1) {
    // An interim response (100 Continue, 103 Early Hints): no body, and the final response follows
    // on the same connection. Returning 1 tells llhttp there is no body.
    s.interim_ = true;
    return 1;
  }
  if (int r = s.end_head(&s.trailers_); r != 0) return r;
  // RFC 9112 6.3: 204 and 304 end at the head, whatever their framing headers say.
  return p->status_code == 204 || p->status_code == 304 ? 1 : 0;
}

int ResponseParser::on_message_complete(llhttp_t* p) {
  ResponseParser& s = self(p);
  if (s.interim_) return 0;  // still inside the exchange: in_message() stays true
  return MessageParser::on_message_complete(p);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

namespace {
// The header lines, then the framing header and the blank line that ends the head.
void append_fields(std::string& out, std::span<const Header> headers) {
  for (const Header& h : headers) {
    assert(valid_header_name(h.name) && valid_header_value(h.value));
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
}

// "HTTP/1.1 200 OK\r\n", with room for the fields that follow.
std::string status_line(int status) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
  return out;
}

void append_framing(std::string& out, int64_t content_length) {
  if (content_length < 0) {
    out += "Transfer-Encoding: chunked\r\n\r\n";
  } else {
    out += "Content-Length: ";
    out += std::to_string(content_length);
    out += "\r\n\r\n";
  }
}
}  // namespace

std::string response_head(int status, std::span<const Header> headers, int64_t content_length) {
  std::string out = status_line(status);
  append_fields(out, headers);
  append_framing(out, content_length);
  return out;
}

std::string response_head(int status, std::initializer_list<std::span<const Header>> header_lists,
                          std::string_view content_type, int64_t content_length) {
  assert(valid_header_value(content_type));
  std::string out = status_line(status);
  for (std::span<const Header> headers : header_lists) append_fields(out, headers);
  out += "Content-Type: ";
  out += content_type;
  out += "\r\n";
  append_framing(out, content_length);
  return out;
}

std::string request_head(std::string_view method, std::string_view target,
                         std::span<const Header> headers, int64_t content_length) {
  assert(valid_header_name(method));
  assert(!target.empty() && valid_header_value(target) && target.find(' ') == target.npos);
  std::string out;
  out.reserve(256);
  out += method;
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\n";
  append_fields(out, headers);
  if (content_length == 0 && (method == "GET" || method == "HEAD")) {
    out += "\r\n";
  } else {
    append_framing(out, content_length);
  }
  return out;
}

std::string chunk_header(size_t n) {
  // Written by hand, not with snprintf: a streamed answer makes one for every read.
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[24];
  char* p = buf + sizeof buf;
  *--p = '\n';
  *--p = '\r';
  do {
    *--p = kHex[n & 15];
    n >>= 4;
  } while (n != 0);
  return std::string(p, static_cast<size_t>(buf + sizeof buf - p));
}

std::string chunk_trailer(std::span<const Header> trailers) {
  std::string out = "0\r\n";
  append_fields(out, trailers);
  out += "\r\n";
  return out;
}

}  // namespace hotwrap
