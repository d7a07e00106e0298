#include "hotwrap/http.hpp"

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
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

const std::string* RequestHead::find(std::string_view name) const {
  for (const Header& h : headers) {
    if (iequals(h.name, name)) return &h.value;
  }
  return nullptr;
}

std::string_view RequestHead::path() const {
  std::string_view u = url;
  return u.substr(0, u.find('?'));
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

RequestParser::RequestParser(RequestLimits limits) : limits_(limits) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::on_message_begin;
  settings_.on_url = &RequestParser::on_url;
  settings_.on_header_field = &RequestParser::on_header_field;
  settings_.on_header_value = &RequestParser::on_header_value;
  settings_.on_header_value_complete = &RequestParser::on_header_value_complete;
  settings_.on_headers_complete = &RequestParser::on_headers_complete;
  settings_.on_body = &RequestParser::on_body;
  settings_.on_message_complete = &RequestParser::on_message_complete;
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

void RequestParser::keep_parsing_after_close() {
  llhttp_set_lenient_keep_alive(&parser_, 1);
}

RequestParser::Step RequestParser::feed(std::string_view in) {
  Step step;
  body_.clear();
  if (error_ != RequestError::None) {
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
    if (error_ == RequestError::None) {
      error_ = RequestError::Malformed;
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

bool RequestParser::finish() {
  if (error_ != RequestError::None) return false;
  if (!in_message_) return true;
  error_offset_ = offset_;
  error_ = RequestError::Malformed;
  reason_ = "connection closed in the middle of a request";
  return false;
}

int RequestParser::refuse(RequestError e, const char* reason) {
  error_ = e;
  reason_ = reason;
  llhttp_set_error_reason(&parser_, reason);
  return HPE_USER;
}

bool RequestParser::count_header_bytes(size_t n) {
  header_bytes_ += n;
  return header_bytes_ <= limits_.max_header_bytes;
}

int RequestParser::on_message_begin(llhttp_t* p) {
  RequestParser& s = self(p);
  s.head_ = RequestHead{};
  s.field_.clear();
  s.value_.clear();
  s.header_bytes_ = 0;
  s.body_bytes_ = 0;
  s.in_message_ = true;
  s.in_trailers_ = false;
  return 0;
}

int RequestParser::on_url(llhttp_t* p, const char* at, size_t n) {
  RequestParser& s = self(p);
  if (s.head_.url.size() + n > s.limits_.max_url_bytes) {
    return s.refuse(RequestError::UrlTooLong, "request URL longer than the limit");
  }
  s.head_.url.append(at, n);
  return 0;
}

int RequestParser::on_header_field(llhttp_t* p, const char* at, size_t n) {
  RequestParser& s = self(p);
  if (!s.count_header_bytes(n)) {
    return s.refuse(RequestError::HeadersTooLarge, "request headers larger than the limit");
  }
  s.field_.append(at, n);
  return 0;
}

int RequestParser::on_header_value(llhttp_t* p, const char* at, size_t n) {
  RequestParser& s = self(p);
  if (!s.count_header_bytes(n)) {
    return s.refuse(RequestError::HeadersTooLarge, "request headers larger than the limit");
  }
  s.value_.append(at, n);
  return 0;
}

int RequestParser::on_header_value_complete(llhttp_t* p) {
  RequestParser& s = self(p);
  if (s.in_trailers_) {
    // A chunked body's trailer: the call started from the head, and whether the trailer came in
    // the same read must not change what the call sees. Dropped (its bytes still count against
    // the header limit).
    s.field_.clear();
    s.value_.clear();
    return 0;
  }
  if (s.head_.headers.size() >= s.limits_.max_headers) {
    return s.refuse(RequestError::HeadersTooLarge, "more request headers than the limit");
  }
  s.head_.headers.push_back({std::move(s.field_), std::string(trim_trailing(s.value_))});
  s.field_.clear();
  s.value_.clear();
  return 0;
}

int RequestParser::on_headers_complete(llhttp_t* p) {
  RequestParser& s = self(p);
  s.head_.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  s.head_.http11 = p->http_major == 1 && p->http_minor >= 1;
  if (s.limits_.max_body_bytes != 0 && (p->flags & F_CONTENT_LENGTH) != 0 &&
      p->content_length > s.limits_.max_body_bytes) {
    s.refuse(RequestError::BodyTooLarge, "request body larger than the limit");
    return -1;
  }
  s.head_done_ = true;
  s.in_trailers_ = true;
  return 0;
}

int RequestParser::on_body(llhttp_t* p, const char* at, size_t n) {
  RequestParser& s = self(p);
  s.body_bytes_ += n;
  if (s.limits_.max_body_bytes != 0 && s.body_bytes_ > s.limits_.max_body_bytes) {
    return s.refuse(RequestError::BodyTooLarge, "request body larger than the limit");
  }
  s.body_.emplace_back(at, n);
  return 0;
}

int RequestParser::on_message_complete(llhttp_t* p) {
  RequestParser& s = self(p);
  s.keep_alive_ = llhttp_should_keep_alive(p) != 0;
  s.in_message_ = false;
  return HPE_PAUSED;
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

std::string response_head(int status, std::span<const Header> headers, int64_t content_length) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
  for (const Header& h : headers) {
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  if (content_length < 0) {
    out += "Transfer-Encoding: chunked\r\n\r\n";
  } else {
    out += "Content-Length: ";
    out += std::to_string(content_length);
    out += "\r\n\r\n";
  }
  return out;
}

std::string chunk_header(size_t n) {
  char buf[24];
  int len = std::snprintf(buf, sizeof buf, "%zx\r\n", n);
  return std::string(buf, static_cast<size_t>(len));
}

}  // namespace hotwrap
