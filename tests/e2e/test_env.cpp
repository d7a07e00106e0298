// The per-call environment generated from request headers.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>

using namespace e2e;

namespace {

std::map<std::string, std::string> parse_env(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& line : split_lines(text)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

std::map<std::string, std::string> env_of_call(Conn& c, const Request& req) {
  Response r = c.call(req);
  INFO(r);
  REQUIRE(r.status == 200);
  return parse_env(r.body);
}

}  // namespace

TEST_CASE("env: call id, deadline and content type") {
  Server srv({"env"});
  Conn c = srv.connect();
  std::string id = next_call_id();
  std::string deadline = deadline_in(30000ms).header;
  auto env = env_of_call(c, {.headers = {{"Fn-Call-Id", id},
                                         {"Fn-Deadline", deadline},
                                         {"Content-Type", "text/plain; charset=utf-8"}}});
  CHECK(env["FN_CALL_ID"] == id);
  CHECK(env["FN_DEADLINE"] == deadline);
  CHECK(env["FN_CONTENT_TYPE"] == "text/plain; charset=utf-8");
  CHECK(env["FN_FORMAT"] == "http-stream");  // the container's own environment is inherited
}

TEST_CASE("env: trigger headers, repeated values joined with \", \"") {
  Server srv({"env"});
  Conn c = srv.connect();
  auto env = env_of_call(
      c, {.headers = {{"Fn-Intent", "httprequest"},
                      {"Fn-Http-Method", "GET"},
                      {"Fn-Http-Request-Url", "http://localhost:8080/t/app/path?a=1&b=2"},
                      {"Fn-Http-H-X-My-Header", "one"},
                      {"Fn-Http-H-Accept", "*/*"},
                      {"Fn-Http-H-X-My-Header", "two"}}});
  CHECK(env["FN_INTENT"] == "httprequest");
  CHECK(env["FN_HTTP_METHOD"] == "GET");
  CHECK(env["FN_HTTP_REQUEST_URL"] == "http://localhost:8080/t/app/path?a=1&b=2");
  CHECK(env["FN_HTTP_H_X_MY_HEADER"] == "one, two");
  CHECK(env["FN_HTTP_H_ACCEPT"] == "*/*");
}

TEST_CASE("env: header names are matched case-insensitively") {
  Server srv({"env"});
  Conn c = srv.connect();
  auto env = env_of_call(c, {.headers = {{"fn-http-method", "DELETE"}, {"FN-HTTP-H-LOUD", "yes"}}});
  CHECK(env["FN_HTTP_METHOD"] == "DELETE");
  CHECK(env["FN_HTTP_H_LOUD"] == "yes");
}

TEST_CASE("env: a variable already set is never replaced by a header") {
  Server srv({"env"}, {{"FN_CALL_ID", "preset-id"}, {"FN_APP_ID", "app-1"}});
  Conn c = srv.connect();
  auto env = env_of_call(c, {.headers = {{"Fn-Call-Id", "from-header"},
                                         {"Fn-App-Id", "evil"},
                                         {"Fn-Format", "json"},
                                         {"Fn-Listener", "unix:/tmp/evil.sock"}}});
  CHECK(env["FN_CALL_ID"] == "preset-id");
  CHECK(env["FN_APP_ID"] == "app-1");
  CHECK(env["FN_FORMAT"] == "http-stream");
  CHECK(env["FN_LISTENER"] == "unix:" + srv.socket_path());
}

TEST_CASE("env: headers create only valid FN_ names, nothing else") {
  Server srv({"env"});
  Conn c = srv.connect();
  std::string id = next_call_id();
  std::string deadline = deadline_in(30000ms).header;
  std::vector<std::pair<std::string, std::string>> base = {{"Fn-Call-Id", id},
                                                           {"Fn-Deadline", deadline}};
  auto plain = env_of_call(c, {.headers = base});

  auto exotic_headers = base;
  for (std::pair<std::string, std::string> h :
       std::initializer_list<std::pair<std::string, std::string>>{{"Path", "/evil"},
                                                                  {"Ld-Preload", "/tmp/evil.so"},
                                                                  {"Home", "/evil"},
                                                                  {"X-Custom", "1"},
                                                                  {"Fn-A.B", "dot"},
                                                                  {"Fn-A+B", "plus"},
                                                                  {"Fn-A!", "bang"},
                                                                  {"Fn-Ok-Name", "kept"}}) {
    exotic_headers.push_back(h);
  }
  auto exotic = env_of_call(c, {.headers = exotic_headers});

  std::set<std::string> added;
  for (const auto& [k, v] : exotic) {
    if (!plain.contains(k)) added.insert(k);
  }
  std::set<std::string> expected = {"FN_OK_NAME"};
  CHECK(added == expected);
  CHECK(exotic["FN_OK_NAME"] == "kept");
  for (const char* name : {"PATH", "HOME", "LD_PRELOAD"}) {
    CAPTURE(name);
    CHECK(exotic[name] == plain[name]);
  }
  for (const auto& [k, v] : exotic) {
    CAPTURE(k);
    CHECK(v != "dot");
    CHECK(v != "plus");
    CHECK(v != "bang");
    if (!plain.contains(k)) continue;
    if (k == "FN_OK_NAME") continue;
    CHECK(v == plain[k]);
  }
}
