#include "hotwrap/cgi.hpp"

#include <array>

namespace hotwrap {

namespace {

constexpr bool is_tchar(char c) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         kSymbols.find(c) != std::string_view::npos;
}

// is_tchar as a table, for scanning a run of name bytes in one go.
constexpr auto kTcharTable = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[static_cast<size_t>(c)] = is_tchar(static_cast<char>(c));
  return t;
}();

constexpr bool is_control(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

// Fields that frame the message or the connection: the server writes its own.
constexpr std::string_view kFraming[] = {
    "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection", "TE",
    "Trailer",        "Upgrade",
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

CgiHeadDecoder::CgiHeadDecoder(uint64_t max_bytes) : max_bytes_(max_bytes) {}

void CgiHeadDecoder::reset() {
  state_ = State::NeedMore;
  scan_ = Scan::Name;
  consumed_ = 0;
  line_ = 1;
  colon_ = false;
  has_status_ = false;
  name_.clear();
  value_.clear();
  head_ = CgiHead{};
  error_.clear();
}

CgiHeadDecoder::State CgiHeadDecoder::feed(std::string_view bytes) {
  while (!bytes.empty() && state_ == State::NeedMore) {
    // Runs of name or value bytes are taken whole, as step() would take them one at a time:
    // output that is no head at all (a first line of text) is scanned up to its first line
    // break or the limit on every call.
    if (size_t room = max_bytes_ - consumed_; room > 0) {
      size_t n = 0;
      size_t most = bytes.size() < room ? bytes.size() : room;
      if (scan_ == Scan::Name) {
        while (n < most && kTcharTable[static_cast<unsigned char>(bytes[n])]) ++n;
        name_.append(bytes.substr(0, n));
      } else if (scan_ == Scan::Value) {
        while (n < most && bytes[n] != '\n' && bytes[n] != '\r' && !is_control(bytes[n])) ++n;
        value_.append(bytes.substr(0, n));
      }
      consumed_ += n;
      bytes.remove_prefix(n);
      if (bytes.empty()) break;
    }
    char c = bytes.front();
    bytes.remove_prefix(1);
    if (consumed_ == max_bytes_) {
      // One byte more than a head may have, and the blank line is not here yet.
      state_ =
          line_ == 1 && !colon_
              ? State::NotCgi
              : broken("it is longer than the limit of " + std::to_string(max_bytes_) + " bytes");
      return state_;
    }
    ++consumed_;
    state_ = step(c);
  }
  return state_;
}

CgiHeadDecoder::State CgiHeadDecoder::finish() {
  if (state_ != State::NeedMore) return state_;
  state_ = line_ == 1 && !colon_ ? State::NotCgi
                                 : broken("it has no end: the output ended before its blank line");
  return state_;
}

CgiHeadDecoder::State CgiHeadDecoder::step(char c) {
  switch (scan_) {
    case Scan::Name:
      if (c == ':') {
        if (name_.empty()) return bad_line("has no header name before its ':'");
        colon_ = true;
        scan_ = Scan::Value;
        return State::NeedMore;
      }
      if (c == '\n') return end_of_line();
      if (c == '\r') {
        scan_ = Scan::CarriageReturn;
        return State::NeedMore;
      }
      if (is_tchar(c)) {
        name_ += c;
        return State::NeedMore;
      }
      if (name_.empty() && (c == ' ' || c == '\t')) {
        return bad_line("begins with white space (obsolete line folding)");
      }
      return bad_line("has no ':' after a header name");
    case Scan::Value:
      if (c == '\n') return end_of_line();
      if (c == '\r') {
        scan_ = Scan::CarriageReturn;
        return State::NeedMore;
      }
      // A CR, LF or NUL inside a value would split or cut the response's own header.
      if (is_control(c)) return bad_line("has a control character in its value");
      value_ += c;
      return State::NeedMore;
    case Scan::CarriageReturn:
      if (c == '\n') return end_of_line();
      return bad_line("has a CR that is not followed by LF");
  }
  return State::NeedMore;
}

CgiHeadDecoder::State CgiHeadDecoder::end_of_line() {
  if (!colon_) {
    if (!name_.empty()) return bad_line("has no ':' after a header name");
    if (line_ == 1) return State::NotCgi;  // a blank first line is no head
    if (!has_status_ && !head_.location.empty()) head_.status = 302;
    head_.body_offset = consumed_;
    return State::Head;
  }
  State s = field(name_, trim(value_));
  if (s != State::NeedMore) return s;
  ++line_;
  colon_ = false;
  scan_ = Scan::Name;
  name_.clear();
  value_.clear();
  return State::NeedMore;
}

CgiHeadDecoder::State CgiHeadDecoder::field(std::string_view name, std::string_view value) {
  auto repeated = [&] { return broken(at_line("repeats " + std::string(name))); };
  if (iequals(name, "Status")) {
    if (has_status_) return repeated();
    has_status_ = true;
    bool digits = value.size() >= 3 && value[0] >= '0' && value[0] <= '9' && value[1] >= '0' &&
                  value[1] <= '9' && value[2] >= '0' && value[2] <= '9';
    int code = digits ? (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0') : 0;
    // 1xx is no final answer, and a 6xx has no meaning a client knows.
    if (!digits || code < 200 || code > 599 ||
        (value.size() > 3 && value[3] != ' ' && value[3] != '\t')) {
      return broken(at_line("has a Status that is not a 3-digit code from 200 to 599"));
    }
    head_.status = code;
    head_.reason = trim(value.substr(3));
    return State::NeedMore;
  }
  if (iequals(name, "Content-Type")) {
    if (!head_.content_type.empty()) return repeated();
    if (value.empty()) return broken(at_line("has an empty Content-Type"));
    head_.content_type = value;
    return State::NeedMore;
  }
  if (iequals(name, "Location")) {
    if (!head_.location.empty()) return repeated();
    if (value.empty()) return broken(at_line("has an empty Location"));
    head_.location = value;
  } else {
    for (std::string_view f : kFraming) {
      if (iequals(name, f)) return State::NeedMore;  // dropped: see CgiHead::headers
    }
  }
  head_.headers.push_back({std::string(name), std::string(value)});
  return State::NeedMore;
}

CgiHeadDecoder::State CgiHeadDecoder::bad_line(const char* why) {
  if (line_ == 1 && !colon_) {
    state_ = State::NotCgi;
    return state_;
  }
  return broken(at_line(why));
}

std::string CgiHeadDecoder::at_line(std::string_view why) const {
  return "line " + std::to_string(line_) + " " + std::string(why);
}

CgiHeadDecoder::State CgiHeadDecoder::broken(std::string why) {
  error_ = std::move(why);
  state_ = State::Broken;
  return state_;
}

}  // namespace hotwrap
