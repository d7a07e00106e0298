// The json format's request mapping (frame → environment and call) and response encoding
// (always valid JSON, whatever bytes the command wrote).
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "protocols/fn_policy.hpp"
#include "protocols/json.hpp"

using namespace hotwrap;
using nlohmann::json;

namespace {

const char* const kBase[] = {"PATH=/bin", "FN_APP_NAME=app", nullptr};

// The command's environment for a call's variables on top of `base`, as a map.
std::map<std::string, std::string> generated(const CallEnv& call_env,
                                             const char* const* base = kBase) {
  std::map<std::string, std::string> out;
  BaseEnv b(base);
  CallEnv env = call_env;
  b.admit(env);
  for (char* const* e = b.envp(env); *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

// The agent's request as the spec shows it (trigger path headers added).
const std::string kAgentRequest =
    R"({"call_id":"01M84V","deadline":"2026-11-23T18:51:01.985Z","body":"hello",)"
    R"("content_type":"text/plain","protocol":{"type":"http","method":"POST",)"
    R"("request_url":"http://localhost:8081/t/app/fn?x=1","headers":{"Accept":["*/*"],)"
    R"("Content-Type":["text/plain"],"Fn-Http-H-My-Header":["a","b"],"Fn-Http-Method":["POST"],)"
    R"("Fn-Http-Request-Url":["http://localhost:8081/t/app/fn?x=1"],"Fn-Intent":["httprequest"]}}})";

}  // namespace

TEST_CASE("json request: fields and headers map to the same names as http-stream") {
  auto call = map_json_request(kAgentRequest, 0, "", 0);
  REQUIRE(call.has_value());
  const CallEnv& env = call->env;
  CHECK(call->id == "01M84V");
  CHECK(call->body == "hello");
  CHECK(call->trigger);
  REQUIRE(call->deadline.has_value());
  CHECK(call->deadline == *parse_rfc3339("2026-11-23T18:51:01.985Z"));
  auto vars = generated(env);
  const std::map<std::string, std::string> expected = {
      {"PATH", "/bin"},
      {"FN_APP_NAME", "app"},
      {"FN_CALL_ID", "01M84V"},
      {"FN_DEADLINE", "2026-11-23T18:51:01.985Z"},
      {"FN_CONTENT_TYPE", "text/plain"},  // the field; the same header is not added twice
      {"FN_METHOD", "POST"},
      {"FN_REQUEST_URL", "http://localhost:8081/t/app/fn?x=1"},
      {"FN_HTTP_H_MY_HEADER", "a, b"},
      {"FN_HTTP_METHOD", "POST"},
      {"FN_HTTP_REQUEST_URL", "http://localhost:8081/t/app/fn?x=1"},
      {"FN_INTENT", "httprequest"},
  };
  CHECK(vars == expected);
}

TEST_CASE("json request: each call has its own environment, which never overrides the base") {
  const char* const base[] = {"FN_CALL_ID=fixed", nullptr};
  REQUIRE(map_json_request(R"({"call_id":"one","content_type":"a/b"})", 0, "", 0));
  auto two = map_json_request(R"({"call_id":"two","protocol":{"headers":{"Fn-X":"y"}}})", 0, "", 0);
  REQUIRE(two);
  auto vars = generated(two->env, base);
  CHECK(vars["FN_CALL_ID"] == "fixed");
  CHECK(vars.count("FN_CONTENT_TYPE") == 0);  // from the first call: gone
  CHECK(vars["FN_X"] == "y");                 // a single string is accepted as a value too
}

TEST_CASE("json request: the Content-Type header stands in when content_type is absent") {
  auto c = map_json_request(R"({"protocol":{"headers":{"Content-Type":["x/y"]}}})", 0, "", 0);
  REQUIRE(c);
  CHECK(generated(c->env)["FN_CONTENT_TYPE"] == "x/y");
}

TEST_CASE("json request: body") {
  SUBCASE("escapes decode to raw bytes, NUL included") {
    auto c = map_json_request(R"({"body":"a\u0000b\n\u00e9\ud83d\ude00"})", 0, "", 0);
    REQUIRE(c);
    CHECK(c->body == std::string("a\0b\n\xc3\xa9\xf0\x9f\x98\x80", 10));
  }
  SUBCASE("absent or null is empty") {
    CHECK(map_json_request("{}", 0, "", 0)->body.empty());
    CHECK(map_json_request(R"({"body":null})", 0, "", 0)->body.empty());
  }
  SUBCASE("at the limit is accepted, over it refused with 413") {
    CHECK(map_json_request(R"({"body":"12345"})", 0, "", 5).has_value());
    auto c = map_json_request(R"({"body":"123456"})", 10, "", 5);
    REQUIRE_FALSE(c);
    CHECK(c.error().status == 413);
    CHECK(c.error().message == "the request at byte 10 has a body of 6 bytes, over the limit of 5");
  }
}

TEST_CASE("json request: trigger and log frame value") {
  SUBCASE("Fn-Intent is matched case-insensitively") {
    auto c =
        map_json_request(R"({"protocol":{"headers":{"fn-intent":["HTTPREQUEST"]}}})", 0, "", 0);
    CHECK(c->trigger);
    CHECK_FALSE(map_json_request("{}", 0, "", 0)->trigger);
  }
  SUBCASE("the header named by FN_LOGFRAME_HDR, first value") {
    auto c = map_json_request(R"({"protocol":{"headers":{"X-Req":["r1","r2"]}}})", 0, "x-req", 0);
    CHECK(c->logframe_value == "r1");
  }
  SUBCASE("Fn-Call-Id is the call_id field in this format") {
    auto c = map_json_request(R"({"call_id":"abc"})", 0, "Fn-Call-Id", 0);
    CHECK(c->logframe_value == "abc");
  }
}

TEST_CASE("json request: an invalid deadline is ignored, the variable still set") {
  auto c = map_json_request(R"({"deadline":"tomorrow"})", 0, "", 0);
  REQUIRE(c);
  CHECK_FALSE(c->deadline.has_value());
  CHECK(generated(c->env)["FN_DEADLINE"] == "tomorrow");
}

TEST_CASE("json request: refused frames, with the exact reason") {
  struct Case {
    std::string frame;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"body":1})", "the request at byte 100: 'body' must be a string"},
      {R"({"call_id":{}})", "the request at byte 100: 'call_id' must be a string"},
      {R"({"deadline":5})", "the request at byte 100: 'deadline' must be a string"},
      {R"({"content_type":[]})", "the request at byte 100: 'content_type' must be a string"},
      {R"({"protocol":"http"})", "the request at byte 100: 'protocol' must be an object"},
      {R"({"protocol":{"method":1}})",
       "the request at byte 100: 'protocol.method' must be a string"},
      {R"({"protocol":{"request_url":true}})",
       "the request at byte 100: 'protocol.request_url' must be a string"},
      {R"({"protocol":{"headers":[]}})",
       "the request at byte 100: 'protocol.headers' must be an object"},
      {R"({"protocol":{"headers":{"A":[1]}}})",
       "the request at byte 100: header 'A' must be a string or an array of strings"},
      {R"({"protocol":{"headers":{"A":{}}}})",
       "the request at byte 100: header 'A' must be a string or an array of strings"},
      {R"({"a":x})",
       "invalid JSON at byte 105 (in the request at byte 100): syntax error while parsing value "
       "- invalid literal; last read: '\"a\":x'"},
      {R"({"a":1,})",
       "invalid JSON at byte 107 (in the request at byte 100): syntax error while parsing "
       "object key - unexpected '}'; expected string literal"},
      {"{\"a\":\"\x01\"}",
       "invalid JSON at byte 106 (in the request at byte 100): syntax error while parsing value "
       "- invalid string: control character U+0001 (SOH) must be escaped to \\u0001; last read: "
       "'\"<U+0001>'"},
      {"{\"a\":\"\xff\"}",
       "invalid JSON at byte 106 (in the request at byte 100): syntax error while parsing value "
       "- invalid string: ill-formed UTF-8 byte; last read: '\"\xff'"},
      {"{]",
       "invalid JSON at byte 101 (in the request at byte 100): syntax error while parsing "
       "object key - unexpected ']'; expected string literal"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.frame);
    auto r = map_json_request(c.frame, 100, "", 0);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 502);
    CHECK(r.error().message == c.message);
  }
}

TEST_CASE("json response: one compact object and a newline") {
  std::vector<Header> headers = {{"Fn-Fdk-Version", "hotwrap/0.1.0"}, {"X", "1"}, {"X", "2"}};
  std::string r = json_response("hi\n", 200, "text/plain", headers);
  CHECK(r ==
        "{\"body\":\"hi\\n\",\"content_type\":\"text/plain\",\"protocol\":{\"headers\":{\"Fn-Fdk-"
        "Version\":[\"hotwrap/0.1.0\"],\"X\":[\"1\",\"2\"]},\"status_code\":200}}\n");
}

TEST_CASE("json response: any bytes give valid JSON; invalid UTF-8 becomes U+FFFD") {
  const std::string fffd = "\xef\xbf\xbd";
  struct Case {
    std::string in;
    std::string body;  // decoded back
  };
  const std::vector<Case> cases = {
      {"plain", "plain"},
      {std::string("nul\0ctl\x01\x1f\"\\", 11), std::string("nul\0ctl\x01\x1f\"\\", 11)},
      {"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80"},
      {"\xff", fffd},
      {"a\xc3", "a" + fffd},                 // truncated at the end
      {"\xc3(", fffd + "("},                 // a lead byte without its continuation
      {"\x80\x80", fffd + fffd},             // stray continuation bytes
      {"\xed\xa0\x80", fffd + fffd + fffd},  // an encoded surrogate is not UTF-8
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    std::string r = json_response(c.in, 200, "x", {});
    json j = json::parse(r, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(j["body"].get<std::string>() == c.body);
    CHECK(j["protocol"]["status_code"] == 200);
    CHECK(r.back() == '\n');
  }
}

TEST_CASE("json string encoder: the same output whatever the chunks") {
  std::string input =
      "ab\xc3\xa9\xe2\x98\x95\xf0\x9f\x98\x80\xff\xc3(\xe2\x82\xf0\x9f\x98\x80\x80z\xf0\x9f\x98";
  std::string whole;
  {
    JsonStringEncoder e;
    e.append(input, whole);
    e.finish(whole);
  }
  for (size_t a = 0; a <= input.size(); ++a) {
    for (size_t b = a; b <= input.size(); ++b) {
      CAPTURE(a);
      CAPTURE(b);
      JsonStringEncoder e;
      std::string out;
      e.append(input.substr(0, a), out);
      e.append(input.substr(a, b - a), out);
      e.append(input.substr(b), out);
      e.finish(out);
      CHECK(out == whole);
    }
  }
  // And the result is what parsing it back expects.
  json j = json::parse("\"" + whole + "\"", nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
}

TEST_CASE("json response: a streamed body and the tail make one object") {
  std::string out(kJsonResponseHead);
  JsonStringEncoder e;
  e.append("part one, ", out);
  e.append("part \xe2\x98", out);
  e.append("\x95 two", out);
  e.finish(out);
  out += json_response_tail(502, "application/octet-stream", {{"Fn-Fdk-Version", "v"}});
  json j = json::parse(out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(j["body"] == "part one, part \xe2\x98\x95 two");
  CHECK(j["content_type"] == "application/octet-stream");
  CHECK(j["protocol"]["status_code"] == 502);
  CHECK(j["protocol"]["headers"]["Fn-Fdk-Version"] == json::array({"v"}));
}

TEST_CASE("verdict: status from the outcome, invoke and trigger paths") {
  using K = Outcome::Kind;
  struct Case {
    Outcome outcome;
    bool trigger;
    int status;
    const char* fn_http_status;
    bool output_is_body;
  };
  const std::vector<Case> cases = {
      {{K::Exited, 0}, false, 200, nullptr, true},
      {{K::Exited, 3}, false, 502, nullptr, false},
      {{K::Signaled, 9}, false, 502, nullptr, false},
      {{K::NotStarted, 2}, false, 502, nullptr, false},
      {{K::TimedOut, 0}, false, 504, nullptr, false},
      {{K::Exited, 0}, true, 200, "200", true},
      {{K::Exited, 3}, true, 200, "500", true},
      {{K::Signaled, 15}, true, 200, "500", true},
      {{K::TimedOut, 0}, true, 504, nullptr, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.outcome.describe());
    CAPTURE(c.trigger);
    Config config;
    config.command = {"cat"};
    Verdict v = fn_verdict(&c.outcome, nullptr, c.trigger, config);
    CHECK(v.status == c.status);
    std::string fn_http_status;
    for (const Header& h : v.headers) {
      if (h.name == "Fn-Http-Status") fn_http_status = h.value;
    }
    CHECK(fn_http_status == std::string(c.fn_http_status ? c.fn_http_status : ""));
    CHECK(v.failed == !c.outcome.ok());
    CHECK(v.output_is_body == c.output_is_body);
    CHECK(v.message.empty() == c.output_is_body);
  }
}
