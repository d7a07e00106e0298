#include "protocols/cgi_env.hpp"

#include <charconv>
#include <string>

namespace hotwrap {

namespace {

// Headers that never become HTTP_<NAME>: those with variables of their own, the hop-by-hop ones
// (they describe the hop to hotwrap, not the caller's request), and Proxy (httpoxy).
constexpr std::string_view kNotPassed[] = {
    "Content-Type", "Content-Length", "Proxy",   "Connection",        "Keep-Alive",
    "TE",           "Trailer",        "Upgrade", "Transfer-Encoding", "Proxy-Connection",
};

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded, as CGI's PATH_INFO is; a byte that would decode to a control byte (%00, %0A)
// stays encoded: a variable cannot hold a NUL, and a line break in it would mislead a script.
std::string decode_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    int hi = path[i] == '%' && i + 2 < path.size() ? hex_value(path[i + 1]) : -1;
    int lo = hi >= 0 ? hex_value(path[i + 2]) : -1;
    if (lo < 0 || hi * 16 + lo < 0x20 || hi * 16 + lo == 0x7f) {
      out += path[i];
      continue;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

struct Target {
  std::string_view scheme;     // "" for origin form
  std::string_view authority;  // host[:port], without user info
  std::string path_query;      // `/path?query`, never empty
};

Target split_target(std::string_view target) {
  Target t;
  std::string_view rest = target;
  if (istarts_with(target, "http://") || istarts_with(target, "https://")) {
    size_t colon = target.find(':');
    t.scheme = target.substr(0, colon);
    std::string_view after = target.substr(colon + 3);
    size_t end = after.find_first_of("/?#");
    t.authority = after.substr(0, end);
    if (size_t at = t.authority.rfind('@'); at != std::string_view::npos) {
      t.authority.remove_prefix(at + 1);  // user:password@ is no one's business
    }
    rest = end == std::string_view::npos ? std::string_view() : after.substr(end);
  }
  rest = rest.substr(0, rest.find('#'));
  if (!rest.starts_with('/') && rest != "*") t.path_query = "/";
  t.path_query += rest;
  return t;
}

// host and port of `host[:port]` (`[v6]:port` included; the brackets dropped).
std::pair<std::string_view, std::string_view> split_authority(std::string_view a) {
  size_t colon = a.rfind(':');
  if (colon == std::string_view::npos || a.find(']', colon) != std::string_view::npos)
    colon = a.size();
  std::string_view host = a.substr(0, colon);
  std::string_view port = colon < a.size() ? a.substr(colon + 1) : std::string_view();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, port};
}

}  // namespace

std::optional<uint64_t> body_length(std::span<const Header> headers) {
  const std::string* cl = find_header(headers, "Content-Length");
  if (cl == nullptr || find_header(headers, "Transfer-Encoding") != nullptr) return std::nullopt;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
  if (ec != std::errc() || end != cl->data() + cl->size() || cl->empty()) return std::nullopt;
  return n;
}

void add_cgi_request_env(CallEnv& env, const CgiRequest& r) {
  // A method or URL with a control byte (possible only from a json frame) is none: a variable
  // must not be cut short by a NUL or split by a line break.
  Target t = split_target(valid_header_value(r.target) ? r.target : std::string_view());
  bool https = iequals(t.scheme, "https");
  const std::string* host_header = find_header(r.headers, "Host");
  if (host_header != nullptr && !valid_header_value(*host_header)) host_header = nullptr;
  auto [host, port] = split_authority(!t.authority.empty()     ? t.authority
                                      : host_header != nullptr ? std::string_view(*host_header)
                                                               : std::string_view());
  std::string_view path_query = t.path_query;
  size_t q = path_query.find('?');

  env.add("GATEWAY_INTERFACE", "CGI/1.1");
  if (valid_header_value(r.method)) env.add("REQUEST_METHOD", r.method);
  env.add("REQUEST_URI", path_query);
  env.add("SCRIPT_NAME", "");
  env.add("PATH_INFO", decode_path(path_query.substr(0, q)));
  env.add("QUERY_STRING",
          q == std::string_view::npos ? std::string_view() : path_query.substr(q + 1));
  std::optional<uint64_t> length = r.content_length ? r.content_length : body_length(r.headers);
  if (length && *length > 0) env.add("CONTENT_LENGTH", std::to_string(*length));
  if (const std::string* type = find_header(r.headers, "Content-Type");
      type != nullptr && valid_header_value(*type)) {
    env.add("CONTENT_TYPE", *type);
  }
  env.add("SERVER_NAME", !r.server_name.empty() ? r.server_name
                         : !host.empty()        ? host
                                                : std::string_view("localhost"));
  env.add("SERVER_PORT", !r.server_port.empty() ? r.server_port
                         : !port.empty()        ? port
                         : https                ? std::string_view("443")
                                                : std::string_view("80"));
  env.add("SERVER_PROTOCOL", r.server_protocol);
  env.add("SERVER_SOFTWARE", "hotwrap/" HOTWRAP_VERSION);
  if (https) env.add("HTTPS", "on");
  if (!r.remote_addr.empty()) env.add("REMOTE_ADDR", r.remote_addr);
  if (!r.remote_port.empty()) env.add("REMOTE_PORT", r.remote_port);

  std::string cookies;
  std::string name;
  for (const Header& h : r.headers) {
    bool passed = valid_header_value(h.value);
    for (std::string_view n : kNotPassed) passed = passed && !iequals(h.name, n);
    if (!passed) continue;
    name.assign("HTTP_");
    for (char c : h.name) {
      name += c == '-' ? '_' : c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    }
    // Also refuses every *_PROXY name, whatever header spelled it.
    if (!is_safe_call_env_name(name)) continue;
    if (name == "HTTP_COOKIE") {
      // RFC 6265 5.4: one Cookie line's pairs are separated by "; ".
      if (!cookies.empty()) cookies += "; ";
      cookies += h.value;
      continue;
    }
    env.add(name, h.value);
  }
  if (!cookies.empty()) env.add("HTTP_COOKIE", cookies);
  if (host_header == nullptr && !t.authority.empty()) env.add("HTTP_HOST", t.authority);
}

}  // namespace hotwrap
