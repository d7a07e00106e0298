// Nothing here throws: nlohmann/json reads events with exceptions off (parse with
// allow_exceptions = false, every member's type checked before it is read); answers are written
// directly, their strings through JsonStringEncoder (bytes that are not UTF-8 become U+FFFD).
#include "protocols/lambda_event.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <span>
#include <utility>
#include <vector>

#include "protocols/json.hpp"

namespace hotwrap {

namespace {

using nlohmann::json;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// A member that must be a string when present; absent or null: nullptr.
const std::string* string_member(const json& obj, const char* key, bool& bad) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  if (!it->is_string()) {
    bad = true;
    return nullptr;
  }
  return &it->get_ref<const std::string&>();
}

const json* object_member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? &*it : nullptr;
}

// Query values as a URL carries them: everything but RFC 3986's unreserved bytes escaped.
void append_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

// Payload 1.0 has no raw query: it is written again from the (multi-value) parameters.
std::string v1_query(const json& event) {
  std::string q;
  auto add = [&](const std::string& k, const json& v) {
    if (!v.is_string()) return;
    if (!q.empty()) q += '&';
    append_escaped(q, k);
    q += '=';
    append_escaped(q, v.get_ref<const std::string&>());
  };
  if (const json* multi = object_member(event, "multiValueQueryStringParameters")) {
    for (const auto& [k, vs] : multi->items()) {
      if (vs.is_array()) {
        for (const json& v : vs) add(k, v);
      }
    }
  } else if (const json* single = object_member(event, "queryStringParameters")) {
    for (const auto& [k, v] : single->items()) add(k, v);
  }
  return q;
}

// A header that may reach the command: a token for a name, a value without CR, LF or NUL.
void add_header(RequestHead& head, const std::string& name, const json& value) {
  if (!value.is_string() || !valid_header_name(name)) return;
  const std::string& v = value.get_ref<const std::string&>();
  if (!valid_header_value(v)) return;
  head.headers.push_back({name, v});
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = at(i) << 16 | (rest == 2 ? at(i + 1) << 8 : 0);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = sextet(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // cut short
    for (size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

namespace {

// The shape of a parsed event (see http_shape()).
HttpShape shape_of(const json& j) {
  if (!j.is_object()) return HttpShape::None;
  auto version = j.find("version");
  if (version != j.end() && version->is_string() && *version == "2.0") {
    const json* ctx = object_member(j, "requestContext");
    const json* http = ctx != nullptr ? object_member(*ctx, "http") : nullptr;
    auto method = http != nullptr ? http->find("method") : j.end();
    if (http != nullptr && method != http->end() && method->is_string()) return HttpShape::V2;
  }
  auto method = j.find("httpMethod");
  auto path = j.find("path");
  if (method != j.end() && method->is_string() && path != j.end() && path->is_string()) {
    return HttpShape::V1;
  }
  return HttpShape::None;
}

json parse_event(std::string_view event) {
  // Cheap first: an event that is not a JSON object is never parsed.
  size_t b = event.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos || event[b] != '{') return json();
  json j = json::parse(event, nullptr, false);
  return j.is_discarded() ? json() : j;
}

}  // namespace

HttpShape http_shape(std::string_view event) {
  return shape_of(parse_event(event));
}

std::expected<HttpEvent, std::string> decode_http_event(std::string_view event, bool forced) {
  json j = parse_event(event);
  HttpShape shape = shape_of(j);
  if (shape == HttpShape::None) {
    if (!forced) return HttpEvent{};
    return std::unexpected(std::string("the event is not an API Gateway or function URL event"));
  }
  HttpEvent e;
  e.shape = shape;
  bool bad = false;
  RequestHead& head = e.head;
  if (shape == HttpShape::V2) {
    const json* ctx = object_member(j, "requestContext");
    const json* http = ctx != nullptr ? object_member(*ctx, "http") : nullptr;
    const std::string* method = http != nullptr ? string_member(*http, "method", bad) : nullptr;
    if (method != nullptr) head.method = *method;
    if (const std::string* ip = http != nullptr ? string_member(*http, "sourceIp", bad) : nullptr) {
      e.source_ip = *ip;
    }
    const std::string* path = string_member(j, "rawPath", bad);
    if (path == nullptr && http != nullptr) path = string_member(*http, "path", bad);
    head.url = path != nullptr && !path->empty() ? *path : "/";
    if (const std::string* q = string_member(j, "rawQueryString", bad);
        q != nullptr && !q->empty()) {
      head.url += '?' + *q;
    }
    if (const json* hs = object_member(j, "headers")) {
      for (const auto& [k, v] : hs->items()) add_header(head, k, v);
    }
    // Payload 2.0 moves the Cookie header into an array.
    if (auto c = j.find("cookies"); c != j.end() && c->is_array() && !c->empty()) {
      std::string joined;
      for (const json& v : *c) {
        if (!v.is_string()) continue;
        if (!joined.empty()) joined += "; ";
        joined += v.get_ref<const std::string&>();
      }
      add_header(head, "cookie", joined);
    }
  } else {
    if (const std::string* method = string_member(j, "httpMethod", bad)) head.method = *method;
    const json* ctx = object_member(j, "requestContext");
    const json* identity = ctx != nullptr ? object_member(*ctx, "identity") : nullptr;
    if (const std::string* ip =
            identity != nullptr ? string_member(*identity, "sourceIp", bad) : nullptr) {
      e.source_ip = *ip;
    }
    const std::string* path = string_member(j, "path", bad);
    head.url = path != nullptr && !path->empty() ? *path : "/";
    if (std::string q = v1_query(j); !q.empty()) head.url += '?' + q;
    if (const json* multi = object_member(j, "multiValueHeaders")) {
      for (const auto& [k, vs] : multi->items()) {
        if (!vs.is_array()) continue;
        for (const json& v : vs) add_header(head, k, v);
      }
    } else if (const json* hs = object_member(j, "headers")) {
      for (const auto& [k, v] : hs->items()) add_header(head, k, v);
    }
  }
  if (bad) return std::unexpected(std::string("a field of the HTTP event is not a string"));
  if (!valid_header_name(head.method)) {
    return std::unexpected(std::string("the HTTP event has no valid method"));
  }
  if (!valid_header_value(head.url)) {
    return std::unexpected(std::string("the HTTP event's path holds control bytes"));
  }
  const std::string* body = string_member(j, "body", bad);
  if (bad) return std::unexpected(std::string("the HTTP event's body is not a string"));
  if (body != nullptr) {
    auto b64 = j.find("isBase64Encoded");
    if (b64 != j.end() && b64->is_boolean() && b64->get<bool>()) {
      auto decoded = base64_decode(*body);
      if (!decoded) {
        return std::unexpected(std::string("the HTTP event's body is not valid base64"));
      }
      e.body = std::move(*decoded);
    } else {
      e.body = *body;
    }
  }
  return e;
}

namespace {

// `s` as a JSON string; bytes that are not UTF-8 become U+FFFD.
void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  JsonStringEncoder enc;
  enc.append(s, out);
  enc.finish(out);
  out += '"';
}

// The answer's status and headers, without the closing brace: Content-Type when the output is
// the body, then the verdict's own. Set-Cookie goes to `cookies` (V2); a repeated name is joined
// with "," (V2) or listed in `multiValueHeaders` (V1).
std::string answer_head(HttpShape shape, const Verdict& v) {
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> fields;
  std::vector<std::string_view> cookies;
  auto add = [&](std::string_view name, std::string_view value) {
    if (shape == HttpShape::V2 && iequals(name, "Set-Cookie")) {
      cookies.push_back(value);
      return;
    }
    for (auto& f : fields) {
      if (iequals(f.first, name)) {
        f.second.push_back(value);
        return;
      }
    }
    fields.push_back({name, {value}});
  };
  if (!v.content_type.empty()) add("content-type", v.content_type);
  for (const Header& h : v.headers) add(h.name, h.value);
  std::string out = "{\"statusCode\":" + std::to_string(v.status) + ",\"headers\":{";
  bool multi = false;
  for (const auto& [name, values] : fields) {
    if (out.back() != '{') out += ',';
    append_quoted(out, name);
    out += ':';
    std::string joined;
    for (std::string_view value : values) {
      if (!joined.empty()) joined += ',';
      joined += value;
    }
    append_quoted(out, shape == HttpShape::V2 ? std::string_view(joined) : values.front());
    multi = multi || values.size() > 1;
  }
  out += '}';
  auto list = [&](std::span<const std::string_view> values) {
    out += '[';
    for (std::string_view value : values) {
      if (out.back() != '[') out += ',';
      append_quoted(out, value);
    }
    out += ']';
  };
  if (shape == HttpShape::V1 && multi) {
    out += ",\"multiValueHeaders\":{";
    for (const auto& [name, values] : fields) {
      if (values.size() < 2) continue;
      if (out.back() != '{') out += ',';
      append_quoted(out, name);
      out += ':';
      list(values);
    }
    out += '}';
  }
  if (!cookies.empty()) {
    out += ",\"cookies\":";
    list(cookies);
  }
  return out;
}

}  // namespace

std::string http_answer(HttpShape shape, const Verdict& verdict, std::string_view body) {
  std::string out = answer_head(shape, verdict);
  bool text = valid_utf8(body);
  out += ",\"body\":";
  append_quoted(out, text ? body : std::string_view(base64_encode(body)));
  out += text ? ",\"isBase64Encoded\":false}" : ",\"isBase64Encoded\":true}";
  return out;
}

std::string http_stream_prelude(const Verdict& verdict) {
  std::string out = answer_head(HttpShape::V2, verdict);
  out += '}';
  out.append(8, '\0');
  return out;
}

const char* lambda_error_type(const Outcome& o) {
  switch (o.kind) {
    case Outcome::Kind::Exited:
    case Outcome::Kind::Signaled: return "Runtime.ExitError";
    case Outcome::Kind::NotStarted: return "Runtime.InvalidEntrypoint";
    case Outcome::Kind::TimedOut:
    case Outcome::Kind::Expired: return "Runtime.Timeout";
    case Outcome::Kind::ShutDown: return "Runtime.Shutdown";
    case Outcome::Kind::BadOutput: return "Runtime.BadOutput";
  }
  return "Runtime.Unknown";
}

std::string lambda_error_json(std::string_view type, std::string_view message,
                              std::string_view trace) {
  std::string out = "{\"errorMessage\":";
  append_quoted(out, message);
  out += ",\"errorType\":";
  append_quoted(out, type);
  out += ",\"stackTrace\":[";
  while (!trace.empty()) {
    size_t nl = trace.find('\n');
    std::string_view line = trace.substr(0, nl);
    if (!line.empty()) {
      if (out.back() != '[') out += ',';
      append_quoted(out, line);
    }
    trace.remove_prefix(nl == std::string_view::npos ? trace.size() : nl + 1);
  }
  out += "]}";
  return out;
}

std::optional<int64_t> lambda_deadline_ms(std::string_view text) {
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  // Before 2001-09-09 it is no Unix time in milliseconds, after year 5000 neither.
  if (ms < 1'000'000'000'000 || ms > 95'617'584'000'000) return std::nullopt;
  return ms;
}

}  // namespace hotwrap
