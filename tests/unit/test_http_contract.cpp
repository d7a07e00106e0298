// The http contract's pure parts: call ids from request headers, OpenFaaS's variables, and the
// ids and deadlines every contract hands its command.
#include <doctest/doctest.h>

#include <array>

#include <set>
#include <string>

#include "hotwrap/call_id.hpp"
#include "hotwrap/deadline.hpp"
#include "protocols/http_contract.hpp"

using namespace hotwrap;

namespace {
RequestHead head(std::string method, std::string url, std::vector<Header> headers) {
  RequestHead h;
  h.method = std::move(method);
  h.url = std::move(url);
  h.headers = std::move(headers);
  return h;
}
}  // namespace

TEST_CASE(
    "http_call_id: X-Call-Id, X-Request-Id, traceparent, X-Cloud-Trace-Context, in that order") {
  CHECK(http_call_id(head("GET", "/", {{"X-Request-Id", "r"}, {"x-call-id", "c"}})) == "c");
  CHECK(http_call_id(head("GET", "/", {{"X-Request-Id", "r"}})) == "r");
  CHECK(http_call_id(
            head("GET", "/",
                 {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})) ==
        "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(http_call_id(head("GET", "/", {{"X-Cloud-Trace-Context", "abc123/99;o=1"}})) == "abc123");
  // Not ids: empty, too long, malformed trace headers.
  CHECK(http_call_id(head("GET", "/", {{"X-Call-Id", ""}})).empty());
  CHECK(http_call_id(head("GET", "/", {{"X-Call-Id", std::string(200, 'a')}})).empty());
  CHECK(http_call_id(head("GET", "/", {{"traceparent", "00-zz-yy-01"}})).empty());
  CHECK(http_call_id(head("GET", "/", {{"X-Cloud-Trace-Context", "not hex/1"}})).empty());
}

TEST_CASE("add_http_request_env: OpenFaaS's names, joined repeats, no Proxy") {
  CallEnv env;
  add_http_request_env(env, head("POST", "/a/b?x=1&y=%20",
                                 {{"x-foo-bar", "1"},
                                  {"X-Foo-Bar", "2"},
                                  {"Content-Length", "5"},
                                  {"PROXY", "http://evil"},
                                  {"Bad.Name", "skipped"},
                                  {"X_Under", "u"}}));
  auto get = [&](const char* n) { return std::string(env.find(n).value_or("<unset>")); };
  CHECK(get("Http_Method") == "POST");
  CHECK(get("Http_Path") == "/a/b");
  CHECK(get("Http_Query") == "x=1&y=%20");
  CHECK(get("Http_X_Foo_Bar") == "1, 2");
  CHECK(get("Http_Content_Length") == "5");
  CHECK(get("Http_Proxy") == "<unset>");
  CHECK(get("Http_X_Under") == "u");
  for (const auto& [name, value] : env.vars()) CHECK(name.find('.') == std::string::npos);
  CallEnv plain;
  add_http_request_env(plain, head("GET", "/", {}));
  CHECK(!plain.find("Http_Query"));
}

TEST_CASE("call ids are 26 Crockford base32 characters, unique and sorted by time") {
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 10000; ++i) {
    std::string id = new_call_id();
    REQUIRE(id.size() == 26);
    CHECK(id.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ") == std::string::npos);
    CHECK(id > prev);
    prev = id;
    seen.insert(id);
  }
  CHECK(seen.size() == 10000);
}

TEST_CASE("format_rfc3339_ms: UTC with milliseconds, and back") {
  auto t = parse_rfc3339("2026-11-28T21:30:05.123Z");
  REQUIRE(t.has_value());
  CHECK(format_rfc3339_ms(*t) == "2026-11-28T21:30:05.123Z");
  CHECK(format_rfc3339_ms(*parse_rfc3339("2024-02-29T23:59:59.999+01:00")) ==
        "2024-02-29T22:59:59.999Z");
  CHECK(format_rfc3339_ms(*parse_rfc3339("1970-01-01T00:00:00Z")) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339_ms(*parse_rfc3339("1969-12-31T23:59:59.5Z")) == "1969-12-31T23:59:59.500Z");
  // Into a buffer, the same text; years past 9999 too (a far-future limit).
  std::array<char, kRfc3339MsMax> buf;
  CHECK(format_rfc3339_ms(*t, buf) == "2026-11-28T21:30:05.123Z");
  auto far = *parse_rfc3339("9999-12-31T23:59:59.999Z") + std::chrono::hours(24 * 366);
  CHECK(format_rfc3339_ms(far, buf) == format_rfc3339_ms(far));
  CHECK(format_rfc3339_ms(far, buf).starts_with("10000-12-31T"));
}
