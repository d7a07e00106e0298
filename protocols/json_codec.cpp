// The pure parts of the json format (json.hpp): frame splitting, request mapping, response
// encoding. Nothing here throws: nlohmann/json is used with exceptions off (parse with
// allow_exceptions = false, an error-recording SAX for the reason, dump with replace).
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "hotwrap/log.hpp"
#include "protocols/fn_policy.hpp"
#include "protocols/json.hpp"

namespace hotwrap {

namespace {

using nlohmann::json;

bool json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string describe_byte(unsigned char c) {
  char buf[16];
  if (c >= 0x20 && c < 0x7f) {
    std::snprintf(buf, sizeof buf, "'%c'", c);
  } else {
    std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
  }
  return buf;
}

// Records the first syntax error; accepts everything else. Used only once a frame has failed to
// parse, to say where and why without an exception.
class ErrorRecorder final : public nlohmann::json_sax<json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    position_ = position;
    std::string_view what = ex.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 6: syntax error ..."
    // keeps what follows the position, which the caller states in stream bytes instead.
    if (size_t col = what.find("column "); col != std::string_view::npos) {
      if (size_t colon = what.find(": ", col); colon != std::string_view::npos) {
        what.remove_prefix(colon + 2);
      }
    }
    what_ = what;
    return false;
  }

  size_t position() const { return position_; }
  const std::string& what() const { return what_; }

 private:
  size_t position_ = 0;
  std::string what_ = "not valid JSON";
};

JsonRefusal refuse(int status, std::string message) {
  return {status, std::move(message)};
}

std::string at(uint64_t offset) {
  return "the request at byte " + std::to_string(offset);
}

// How many trailing bytes of `s` begin a multi-byte UTF-8 sequence that the next chunk may
// complete (0 when the end is a complete character or plainly invalid).
size_t incomplete_utf8_tail(std::string_view s) {
  size_t n = s.size();
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    auto c = static_cast<unsigned char>(s[n - k]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: its lead is further back
    size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

}  // namespace

// ---- JsonFrameSplitter ------------------------------------------------------------------------

JsonFrameSplitter::JsonFrameSplitter(uint64_t max_frame_bytes)
    : max_frame_bytes_(max_frame_bytes) {}

bool JsonFrameSplitter::invalid(uint64_t at, char c, const char* expected) {
  error_ = Error::Invalid;
  error_offset_ = at;
  bad_byte_ = static_cast<unsigned char>(c);
  expected_ = expected;
  return false;
}

bool JsonFrameSplitter::begin_value(char c, uint64_t at) {
  switch (c) {
    case '{':
      stack_ += '{';
      state_ = State::KeyOrClose;
      return true;
    case '[':
      stack_ += '[';
      state_ = State::ValueOrClose;
      return true;
    case '"':
      key_ = false;
      state_ = State::String;
      return true;
    case 't': literal_ = "true"; break;
    case 'f': literal_ = "false"; break;
    case 'n': literal_ = "null"; break;
    case '-': num_ = Num::Minus; break;
    case '0': num_ = Num::Zero; break;
    default:
      if (c >= '1' && c <= '9') {
        num_ = Num::Int;
        break;
      }
      return invalid(at, c, "a JSON value");
  }
  if (literal_ != nullptr && c == literal_[0]) {
    literal_pos_ = 1;
    state_ = State::Literal;
  } else {
    state_ = State::Number;
  }
  return true;
}

bool JsonFrameSplitter::close(char c, uint64_t at, bool& frame_end) {
  char open = stack_.back();
  if ((open == '{' && c != '}') || (open == '[' && c != ']')) {
    return invalid(at, c, open == '{' ? "',' or '}'" : "',' or ']'");
  }
  stack_.pop_back();
  if (stack_.empty()) {
    state_ = State::Between;
    frame_end = true;
  } else {
    state_ = State::AfterValue;
  }
  return true;
}

bool JsonFrameSplitter::step_byte(char c, uint64_t at, bool& frame_end) {
  switch (state_) {
    case State::Between: return true;  // handled by feed()
    case State::Value:
      if (json_space(c)) return true;
      return begin_value(c, at);
    case State::ValueOrClose:
      if (json_space(c)) return true;
      if (c == ']') return close(c, at, frame_end);
      return begin_value(c, at);
    case State::KeyOrClose:
      if (json_space(c)) return true;
      if (c == '}') return close(c, at, frame_end);
      if (c != '"') return invalid(at, c, "a key (a JSON string) or '}'");
      key_ = true;
      state_ = State::String;
      return true;
    case State::Key:
      if (json_space(c)) return true;
      if (c != '"') return invalid(at, c, "a key (a JSON string)");
      key_ = true;
      state_ = State::String;
      return true;
    case State::Colon:
      if (json_space(c)) return true;
      if (c != ':') return invalid(at, c, "':' after the key");
      state_ = State::Value;
      return true;
    case State::AfterValue:
      if (json_space(c)) return true;
      if (c == ',') {
        state_ = stack_.back() == '{' ? State::Key : State::Value;
        return true;
      }
      return close(c, at, frame_end);
    case State::String:
      if (c == '"') {
        state_ = key_ ? State::Colon : State::AfterValue;
      } else if (c == '\\') {
        state_ = State::Escape;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        return invalid(at, c, "a control character to be escaped (\\u00XX) in a string");
      }
      return true;
    case State::Escape:
      if (c == 'u') {
        hex_left_ = 4;
        state_ = State::Unicode;
        return true;
      }
      if (std::string_view("\"\\/bfnrt").find(c) == std::string_view::npos) {
        return invalid(at, c, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)");
      }
      state_ = State::String;
      return true;
    case State::Unicode:
      if (!std::isxdigit(static_cast<unsigned char>(c))) {
        return invalid(at, c, "a hex digit of a \\uXXXX escape");
      }
      if (--hex_left_ == 0) state_ = State::String;
      return true;
    case State::Literal:
      if (c != literal_[literal_pos_]) return invalid(at, c, "true, false or null");
      if (literal_[++literal_pos_] == '\0') {
        literal_ = nullptr;
        state_ = State::AfterValue;
      }
      return true;
    case State::Number: {
      bool digit = c >= '0' && c <= '9';
      switch (num_) {
        case Num::Minus:
          if (c == '0')
            num_ = Num::Zero;
          else if (digit)
            num_ = Num::Int;
          else
            return invalid(at, c, "a digit after '-'");
          return true;
        case Num::Zero:
        case Num::Int:
          if (digit && num_ == Num::Int) return true;
          if (c == '.')
            num_ = Num::Dot;
          else if (c == 'e' || c == 'E')
            num_ = Num::E;
          else
            break;  // the number ended
          return true;
        case Num::Dot:
          if (!digit) return invalid(at, c, "a digit after '.'");
          num_ = Num::Frac;
          return true;
        case Num::Frac:
          if (digit) return true;
          if (c == 'e' || c == 'E') {
            num_ = Num::E;
            return true;
          }
          break;
        case Num::E:
          if (c == '+' || c == '-') {
            num_ = Num::ESign;
            return true;
          }
          [[fallthrough]];
        case Num::ESign:
          if (!digit) return invalid(at, c, "a digit of the exponent");
          num_ = Num::Exp;
          return true;
        case Num::Exp:
          if (digit) return true;
          break;
      }
      // The number ended at a byte that belongs to what follows it.
      state_ = State::AfterValue;
      return step_byte(c, at, frame_end);
    }
  }
  return true;
}

JsonFrameSplitter::Step JsonFrameSplitter::feed(std::string_view in) {
  Step step;
  if (error_ != Error::None) {
    step.fatal = true;
    return step;
  }
  if (state_ == State::Between) {
    frame_.clear();
    frame_error_ = Error::None;
  }
  size_t seg = 0;  // where this input's part of the current frame begins
  // Keeps the bytes [seg, end) of the current frame, unless it has grown past the limit.
  auto keep = [&](size_t end) {
    frame_bytes_ += end - seg;
    if (frame_error_ == Error::TooLarge) return;
    if (frame_bytes_ > max_frame_bytes_) {
      frame_error_ = Error::TooLarge;
      std::string().swap(frame_);  // the frame is skipped; its memory goes now
      return;
    }
    frame_.append(in.substr(seg, end - seg));
  };
  auto fail = [&](size_t i) {
    offset_ += i;
    step.consumed = i;
    step.fatal = true;
    return step;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (state_ == State::Between) {
      if (json_space(c)) continue;
      if (c != '{') {
        error_ = Error::NotAnObject;
        error_offset_ = offset_ + i;
        bad_byte_ = static_cast<unsigned char>(c);
        return fail(i);
      }
      state_ = State::KeyOrClose;
      stack_.assign(1, '{');
      frame_offset_ = offset_ + i;
      frame_bytes_ = 0;
      frame_.clear();
      frame_error_ = Error::None;
      seg = i;
      continue;
    }
    if (state_ == State::String) {
      // Most of a frame is string content: skip to the next byte that matters.
      while (i < in.size() && in[i] != '"' && in[i] != '\\' &&
             static_cast<unsigned char>(in[i]) >= 0x20)
        ++i;
      if (i == in.size()) break;
      c = in[i];
    }
    bool frame_end = false;
    if (!step_byte(c, offset_ + i, frame_end)) return fail(i);
    if (frame_end) {
      keep(i + 1);
      step.consumed = i + 1;
      step.frame = true;
      offset_ += step.consumed;
      return step;
    }
  }
  if (state_ != State::Between) keep(in.size());
  step.consumed = in.size();
  offset_ += in.size();
  return step;
}

bool JsonFrameSplitter::finish() {
  if (error_ != Error::None) return false;
  if (state_ == State::Between) return true;
  error_ = Error::Truncated;
  error_offset_ = offset_;
  return false;
}

std::string JsonFrameSplitter::error_message() const {
  switch (error_ != Error::None ? error_ : frame_error_) {
    case Error::None: return {};
    case Error::NotAnObject:
      return "expected a JSON object ('{') at byte " + std::to_string(error_offset_) + ", found " +
             describe_byte(bad_byte_);
    case Error::TooLarge:
      return at(frame_offset_) + " is larger than the limit of " +
             std::to_string(max_frame_bytes_) + " bytes";
    case Error::Truncated:
      return "the input ended at byte " + std::to_string(error_offset_) +
             " inside the request that began at byte " + std::to_string(frame_offset_);
    case Error::Invalid:
      return "invalid JSON at byte " + std::to_string(error_offset_) + " (in " + at(frame_offset_) +
             "): expected " + expected_ + ", found " + describe_byte(bad_byte_);
  }
  return {};
}

uint64_t json_frame_limit(uint64_t max_body_bytes, uint64_t max_header_bytes) {
  if (max_body_bytes == 0) return 64ull << 20;
  return 6 * max_body_bytes + max_header_bytes + (4u << 10);
}

// ---- requests ---------------------------------------------------------------------------------

std::expected<JsonCall, JsonRefusal> map_json_request(std::string_view frame, uint64_t frame_offset,
                                                      std::string_view logframe_hdr,
                                                      uint64_t max_body_bytes, bool keep_request) {
  json j = json::parse(frame, nullptr, false);
  if (j.is_discarded()) {
    ErrorRecorder rec;
    json::sax_parse(frame, &rec);
    uint64_t where = frame_offset + (rec.position() > 0 ? rec.position() - 1 : 0);
    return std::unexpected(refuse(502, "invalid JSON at byte " + std::to_string(where) + " (in " +
                                           at(frame_offset) + "): " + rec.what()));
  }
  if (!j.is_object()) {
    return std::unexpected(refuse(502, at(frame_offset) + " is not a JSON object"));
  }

  // A string member, absent or null being empty; any other type refuses the frame.
  std::optional<JsonRefusal> bad;
  auto text = [&](const json& obj, const char* key, const char* name) -> std::string {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return {};
    if (!it->is_string()) {
      if (!bad) bad = refuse(502, at(frame_offset) + ": '" + name + "' must be a string");
      return {};
    }
    return it->get<std::string>();
  };

  JsonCall call;
  CallEnv& env = call.env;
  call.id = text(j, "call_id", "call_id");
  std::string deadline = text(j, "deadline", "deadline");
  std::string content_type = text(j, "content_type", "content_type");
  call.body = text(j, "body", "body");
  const json* protocol = nullptr;
  if (auto it = j.find("protocol"); it != j.end() && !it->is_null()) {
    if (!it->is_object())
      return std::unexpected(refuse(502, at(frame_offset) + ": 'protocol' must be an object"));
    protocol = &*it;
  }
  std::string method, url;
  const json* headers = nullptr;
  if (protocol != nullptr) {
    method = text(*protocol, "method", "protocol.method");
    url = text(*protocol, "request_url", "protocol.request_url");
    if (auto it = protocol->find("headers"); it != protocol->end() && !it->is_null()) {
      if (!it->is_object()) {
        return std::unexpected(
            refuse(502, at(frame_offset) + ": 'protocol.headers' must be an object"));
      }
      headers = &*it;
    }
  }
  if (bad) return std::unexpected(*bad);
  if (max_body_bytes != 0 && call.body.size() > max_body_bytes) {
    return std::unexpected(
        refuse(413, at(frame_offset) + " has a body of " + std::to_string(call.body.size()) +
                        " bytes, over the limit of " + std::to_string(max_body_bytes)));
  }

  // The request's own fields win over headers that would map to the same names.
  std::vector<std::string_view> from_fields;
  auto field = [&](std::string_view name, const std::string& value, bool present) {
    if (!present) return;
    env.add(name, value);
    from_fields.push_back(name);
  };
  auto present = [](const json* obj, const char* key) {
    if (obj == nullptr) return false;
    auto it = obj->find(key);
    return it != obj->end() && !it->is_null();
  };
  field("FN_CALL_ID", call.id, present(&j, "call_id"));
  field("FN_DEADLINE", deadline, present(&j, "deadline"));
  field("FN_CONTENT_TYPE", content_type, present(&j, "content_type"));
  field("FN_METHOD", method, present(protocol, "method"));
  field("FN_REQUEST_URL", url, present(protocol, "request_url"));
  if (keep_request) {
    call.method = method;
    call.url = url;
  }

  if (headers != nullptr) {
    for (const auto& [name, values] : headers->items()) {
      std::vector<std::string> list;
      if (values.is_string()) {
        list.push_back(values.get<std::string>());
      } else if (values.is_array()) {
        for (const json& v : values) {
          if (!v.is_string()) {
            return std::unexpected(refuse(502, at(frame_offset) + ": header '" + name +
                                                   "' must be a string or an array of strings"));
          }
          list.push_back(v.get<std::string>());
        }
      } else if (!values.is_null()) {
        return std::unexpected(refuse(502, at(frame_offset) + ": header '" + name +
                                               "' must be a string or an array of strings"));
      }
      if (keep_request) {
        for (const std::string& v : list) call.headers.push_back({name, v});
      }
      if (iequals(name, "Fn-Intent")) {
        for (const std::string& v : list) call.trigger = call.trigger || iequals(v, "httprequest");
      }
      if (!logframe_hdr.empty() && call.logframe_value.empty() && iequals(name, logframe_hdr) &&
          !list.empty()) {
        call.logframe_value = list.front();
      }
      auto env_name = env_name_for_header(name);
      if (!env_name) continue;
      bool shadowed = false;
      for (std::string_view f : from_fields) shadowed = shadowed || f == *env_name;
      if (shadowed) continue;
      for (const std::string& v : list) env.add(*env_name, v);
    }
  }
  // The call id is what log framing is usually keyed on; in this format it is a field.
  if (call.logframe_value.empty() && iequals(logframe_hdr, "Fn-Call-Id")) {
    call.logframe_value = call.id;
  }

  if (!deadline.empty()) {
    if (auto d = parse_rfc3339(deadline)) {
      call.deadline = *d;
      call.deadline_text = deadline;
    } else {
      log(Level::Warn, call.id, "ignoring the deadline: %s", d.error().c_str());
    }
  }
  return call;
}

// ---- responses --------------------------------------------------------------------------------

void JsonStringEncoder::encode(std::string_view bytes, std::string& out) {
  if (bytes.empty()) return;
  std::string quoted =
      json(std::string(bytes)).dump(-1, ' ', false, json::error_handler_t::replace);
  out.append(quoted, 1, quoted.size() - 2);
}

void JsonStringEncoder::append(std::string_view bytes, std::string& out) {
  if (!held_.empty()) {
    // Complete the held sequence with this chunk's first bytes, then go on as usual.
    std::string joined = std::move(held_);
    held_.clear();
    joined.append(bytes);
    append(joined, out);
    return;
  }
  size_t tail = incomplete_utf8_tail(bytes);
  encode(bytes.substr(0, bytes.size() - tail), out);
  held_.assign(bytes.substr(bytes.size() - tail));
}

void JsonStringEncoder::finish(std::string& out) {
  encode(held_, out);
  held_.clear();
}

std::string json_response_tail(int status, std::string_view content_type,
                               const std::vector<Header>& headers) {
  json hs = json::object();
  for (const Header& h : headers) hs[h.name].push_back(h.value);
  json tail = {{"content_type", content_type},
               {"protocol", {{"status_code", status}, {"headers", std::move(hs)}}}};
  std::string s = tail.dump(-1, ' ', false, json::error_handler_t::replace);
  // s is `{"content_type":...}`: it continues the body's string as `","content_type":...}`.
  return "\"," + s.substr(1) + "\n";
}

std::string json_response(std::string_view body, int status, std::string_view content_type,
                          const std::vector<Header>& headers) {
  std::string out(kJsonResponseHead);
  JsonStringEncoder enc;
  enc.append(body, out);
  enc.finish(out);
  out += json_response_tail(status, content_type, headers);
  return out;
}

std::string json_value_error(std::string_view text) {
  ErrorRecorder rec;  // one pass, no document built
  if (json::sax_parse(text, &rec)) return {};
  return "invalid JSON at byte " + std::to_string(rec.position() > 0 ? rec.position() - 1 : 0) +
         ": " + rec.what();
}

}  // namespace hotwrap
