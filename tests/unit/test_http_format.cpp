// The legacy http format's request mapping: the agent's Fn_* headers, the others as http-stream.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "protocols/fn_http.hpp"

using namespace hotwrap;

namespace {

const char* const kBase[] = {"PATH=/bin", nullptr};

// The command's environment for a route's call, as the runner builds it on kBase.
std::map<std::string, std::string> generated(const Route& r) {
  std::map<std::string, std::string> out;
  BaseEnv base(kBase);
  CallEnv env = r.request.env;
  base.admit(env);
  for (char* const* e = base.envp(env); *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

// A trigger call is one whose answer carries Fn-Http-Status.
bool is_trigger(const Route& r) {
  for (const Header& h : r.policy(nullptr, nullptr).headers) {
    if (h.name == "Fn-Http-Status") return true;
  }
  return false;
}

Config config_for_test() {
  Config c;
  c.command = {"cat"};
  return c;
}
const Config kConfig = config_for_test();

// The spec's example request, as llhttp hands over its head.
RequestHead agent_request() {
  RequestHead h;
  h.method = "POST";
  h.url = "/invoke/01M84";
  h.headers = {{"Host", "localhost:8081"},
               {"User-Agent", "curl/7.88.1"},
               {"Content-Length", "5"},
               {"Accept", "*/*"},
               {"Content-Type", "text/plain"},
               {"Fn_call_id", "01M84VXY"},
               {"Fn_deadline", "2026-11-23T18:51:10.779Z"},
               {"Fn_method", "POST"},
               {"Fn_request_url", "http://localhost:8081/invoke/01M84"}};
  return h;
}

}  // namespace

TEST_CASE("http request: the agent's Fn_ headers and the usual mapping") {
  Route r = route_http_request(agent_request(), kConfig);
  CHECK(r.reject == 0);
  CHECK_FALSE(is_trigger(r));
  CHECK(r.request.id == "01M84VXY");
  REQUIRE(r.request.deadline.has_value());
  CHECK(r.request.deadline == *parse_rfc3339("2026-11-23T18:51:10.779Z"));
  CHECK(r.request.stdio.in == Stdio::Pipe);
  CHECK_FALSE(r.request.deadline_margin.has_value());  // hot: the configured margin
  const std::map<std::string, std::string> expected = {
      {"PATH", "/bin"},
      {"FN_CALL_ID", "01M84VXY"},
      {"FN_DEADLINE", "2026-11-23T18:51:10.779Z"},
      {"FN_METHOD", "POST"},
      {"FN_REQUEST_URL", "http://localhost:8081/invoke/01M84"},
      {"FN_CONTENT_TYPE", "text/plain"},
  };
  CHECK(generated(r) == expected);
}

TEST_CASE("http request: trigger-path headers map as in http-stream") {
  RequestHead h;
  h.method = "GET";
  h.url = "/t/app/fn";
  h.headers = {{"fn_call_id", "c1"},  // any case
               {"Fn-Http-H-My-Header", "a"}, {"Fn-Http-H-My-Header", "b"},
               {"Fn-Http-Method", "GET"},    {"Fn-Http-Request-Url", "http://x/t/app/fn?q=1"},
               {"Fn-Intent", "httprequest"}, {"X-Not-Mapped", "z"},
               {"Fn-Bad.Name", "skipped"}};
  Route r = route_http_request(h, kConfig);
  CHECK(is_trigger(r));
  CHECK(r.request.id == "c1");
  CHECK_FALSE(r.request.deadline.has_value());
  const std::map<std::string, std::string> expected = {
      {"PATH", "/bin"},
      {"FN_CALL_ID", "c1"},
      {"FN_HTTP_H_MY_HEADER", "a, b"},
      {"FN_HTTP_METHOD", "GET"},
      {"FN_HTTP_REQUEST_URL", "http://x/t/app/fn?q=1"},
      {"FN_INTENT", "httprequest"},
  };
  CHECK(generated(r) == expected);
}

TEST_CASE("http request: Fn-Call-Id and Fn-Deadline stand in for the agent's headers") {
  RequestHead h;
  h.headers = {{"Fn-Call-Id", "new-style"}, {"Fn-Deadline", "2026-11-23T18:33:30Z"}};
  Route r = route_http_request(h, kConfig);
  CHECK(r.request.id == "new-style");
  CHECK(r.request.deadline.has_value());
  SUBCASE("the agent's own win when both are there") {
    h.headers.push_back({"Fn_call_id", "agent"});
    h.headers.push_back({"Fn_deadline", "2026-11-23T18:00:00Z"});
    Route both = route_http_request(h, kConfig);
    CHECK(both.request.id == "agent");
    CHECK(both.request.deadline == *parse_rfc3339("2026-11-23T18:00:00Z"));
  }
}

TEST_CASE("http request: an invalid Fn_deadline is ignored, the variable still set") {
  RequestHead h;
  h.headers = {{"Fn_deadline", "soon"}};
  Route r = route_http_request(h, kConfig);
  CHECK_FALSE(r.request.deadline.has_value());
  CHECK(generated(r)["FN_DEADLINE"] == "soon");
}

TEST_CASE("http request: each request has its own environment") {
  route_http_request(agent_request(), kConfig);
  RequestHead h;
  h.headers = {{"Fn_call_id", "second"}};
  Route r = route_http_request(h, kConfig);
  auto vars = generated(r);
  CHECK(vars["FN_CALL_ID"] == "second");
  CHECK(vars.count("FN_METHOD") == 0);
}

TEST_CASE("http request: log frame value") {
  RequestHead h = agent_request();
  CHECK(http_logframe_value(h, "accept") == "*/*");
  CHECK(http_logframe_value(h, "Fn-Call-Id") == "01M84VXY");  // from Fn_call_id
  CHECK(http_logframe_value(h, "X-Missing").empty());
}
