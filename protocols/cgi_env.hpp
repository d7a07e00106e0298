// The CGI request variables (RFC 3875 §4.1) of a call, so that a cgi-bin script runs unchanged
// (HOTWRAP_CGI=1). One function for every protocol: each decodes its request its own way (a
// plain HTTP request, an Fn trigger's Fn-Http-* headers, a json frame) and hands over the same
// facts.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "hotwrap/env.hpp"
#include "hotwrap/http.hpp"

namespace hotwrap {

struct CgiRequest {
  std::string_view method;  // REQUEST_METHOD
  // The request target as received, origin form (`/path?query`), or the absolute URL a platform
  // recorded of its caller's request (`https://host:8080/path?query`). Empty: `/`.
  std::string_view target;
  // The caller's request headers (names any case, repeated names repeated).
  std::span<const Header> headers = {};
  // The body's length when the protocol knows it; else the Content-Length header's, if there is
  // no Transfer-Encoding.
  std::optional<uint64_t> content_length = std::nullopt;
  // "": from the URL's authority, else the Host header, else `localhost` and 80 (443 for https).
  std::string_view server_name = {};
  std::string_view server_port = {};
  // "": not known (a unix socket), and not set.
  std::string_view remote_addr = {};
  std::string_view remote_port = {};
  std::string_view server_protocol = "HTTP/1.1";
};

// The body length a request's headers announce: Content-Length, unless a Transfer-Encoding
// (chunked) makes it unknown.
std::optional<uint64_t> body_length(std::span<const Header> headers);

// Adds GATEWAY_INTERFACE=CGI/1.1, REQUEST_METHOD, REQUEST_URI (path and query as received),
// QUERY_STRING (raw, "" when none), PATH_INFO (the path percent-decoded, except bytes that would
// decode to a control byte, which stay encoded), SCRIPT_NAME ("": hotwrap serves the whole path,
// so PATH_INFO is all of it), CONTENT_LENGTH (only when known and not 0, as Go's net/http/cgi),
// CONTENT_TYPE, SERVER_NAME, SERVER_PORT, SERVER_PROTOCOL, SERVER_SOFTWARE=hotwrap/<version>,
// HTTPS=on for an https URL, REMOTE_ADDR and REMOTE_PORT when known, and HTTP_<NAME> for each
// other header (upper case, `-` → `_`; repeated values joined with ", ", Cookie's with "; ";
// HTTP_HOST from the URL when the headers have no Host). Never from a header: `Proxy` (httpoxy:
// HTTP_PROXY is read as a proxy setting), Content-Type and Content-Length (their own variables),
// the hop-by-hop fields, a name that would not make a variable name, or a value with a control
// byte. Authorization is passed as HTTP_AUTHORIZATION: the command is the application that
// checks it (hotwrap authenticates no one, so AUTH_TYPE and REMOTE_USER are never set), as Go's
// net/http/cgi and Apache's CGIPassAuth do. CallEnv's rules still apply: no variable the
// container set is replaced.
void add_cgi_request_env(CallEnv& env, const CgiRequest& request);

}  // namespace hotwrap
