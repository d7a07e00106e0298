// CGI mode: the header-block decoder fed at every split point, Fn's mapping of a head onto its
// answers, the request variables, and the switch.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "hotwrap/cgi.hpp"
#include "protocols/cgi_env.hpp"
#include "protocols/fn_policy.hpp"

using namespace hotwrap;

namespace {

using State = CgiHeadDecoder::State;

// Everything a decode ends with, in one comparable line.
std::string outcome_of(CgiHeadDecoder& d) {
  switch (d.state()) {
    case State::NeedMore: return "need more";
    case State::NotCgi: return "not cgi";
    case State::Broken: return "broken: " + d.error();
    case State::Head: break;
  }
  const CgiHead& h = d.head();
  std::string s = "head " + std::to_string(h.status) + " [" + h.reason +
                  "] type=" + h.content_type + " location=" + h.location + " body@" +
                  std::to_string(h.body_offset);
  for (const Header& f : h.headers) s += " | " + f.name + "=" + f.value;
  return s;
}

// Feeds `output` in `pieces`, then ends it.
std::string decode(std::string_view output, const std::vector<size_t>& cuts, uint64_t limit) {
  CgiHeadDecoder d(limit);
  size_t at = 0;
  for (size_t cut : cuts) {
    d.feed(output.substr(at, cut - at));
    at = cut;
  }
  d.feed(output.substr(at));
  d.finish();
  return outcome_of(d);
}

struct Row {
  std::string output;
  std::string expected;
  uint64_t limit = 1024;
};

// clang-format off
const Row kRows[] = {
    // Heads.
    {"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnothing here",
     "head 404 [Not Found] type=text/plain location= body@51"},
    {"Content-Type: application/json\n\n{\"a\":1}", "head 200 [] type=application/json location= body@32"},
    {"Location: https://example.com/new\r\n\r\n",
     "head 302 [] type= location=https://example.com/new body@37 | Location=https://example.com/new"},
    {"Location: /local\n\n", "head 302 [] type= location=/local body@18 | Location=/local"},
    {"Status: 301\nLocation: /x\n\n", "head 301 [] type= location=/x body@26 | Location=/x"},
    {"status: 201 Created\ncontent-type: a/b\nX-One: 1\nSet-Cookie: a=1\nSet-Cookie: b=2\n\nbody",
     "head 201 [Created] type=a/b location= body@80 | X-One=1 | Set-Cookie=a=1 | Set-Cookie=b=2"},
    {"X-Pad: \t spaced value \t\n\n", "head 200 [] type= location= body@25 | X-Pad=spaced value"},
    {"X-Empty:\n\n", "head 200 [] type= location= body@10 | X-Empty="},
    {"Status: 599 Odd\tOne \n\n", "head 599 [Odd\tOne] type= location= body@22"},
    {"A: 1\r\nB: 2\n\r\nrest\r\n\r\n", "head 200 [] type= location= body@13 | A=1 | B=2"},
    // The framing is the server's: a script's is dropped.
    {"Content-Length: 5\nTransfer-Encoding: chunked\nConnection: close\nKeep-Alive: 5\nX: y\n\nhello",
     "head 200 [] type= location= body@83 | X=y"},
    // Not CGI: the whole output is the body.
    {"", "not cgi"},
    {"olleH\n", "not cgi"},
    {"olleH", "not cgi"},
    {"hello world\n", "not cgi"},
    {"{\"a\":1}\n", "not cgi"},
    {"\nStatus: 404\n\n", "not cgi"},
    {"\r\nStatus: 404\r\n\r\n", "not cgi"},
    {" X: y\n\n", "not cgi"},
    {": value\n\n", "not cgi"},
    {"\x89PNG\r\n\x1a\n", "not cgi"},
    {"X\ry: 1\n\n", "not cgi"},
    {"abcdefghij: long name\n\n", "not cgi", 8},
    // Begun, and broken.
    {"Status: 404\nbad line\n\n", "broken: line 2 has no ':' after a header name"},
    {"X: 1\nBad Name: 2\n\n", "broken: line 2 has no ':' after a header name"},
    {"X: 1\r\nNo-Colon\r\n\r\n", "broken: line 2 has no ':' after a header name"},
    {"X: 1\n: 2\n\n", "broken: line 2 has no header name before its ':'"},
    {"Status: 404\n\tfolded\n\n", "broken: line 2 begins with white space (obsolete line folding)"},
    {"Status: abc\n\n", "broken: line 1 has a Status that is not a 3-digit code from 200 to 599"},
    {"Status: 4040\n\n", "broken: line 1 has a Status that is not a 3-digit code from 200 to 599"},
    {"Status: 199 Early\n\n", "broken: line 1 has a Status that is not a 3-digit code from 200 to 599"},
    {"Status: 600\n\n", "broken: line 1 has a Status that is not a 3-digit code from 200 to 599"},
    {"Status:\n\n", "broken: line 1 has a Status that is not a 3-digit code from 200 to 599"},
    {"Status: 200\nStatus: 404\n\n", "broken: line 2 repeats Status"},
    {"Content-Type: a/b\ncontent-type: c/d\n\n", "broken: line 2 repeats content-type"},
    {"Location: /a\nLocation: /b\n\n", "broken: line 2 repeats Location"},
    {"Content-Type:  \n\n", "broken: line 1 has an empty Content-Type"},
    {"Location:\n\n", "broken: line 1 has an empty Location"},
    {"X: a\rb\n\n", "broken: line 1 has a CR that is not followed by LF"},
    {"X: 1\nY\r\n", "broken: line 2 has no ':' after a header name"},
    {std::string("X: a\0b\n\n", 8), "broken: line 1 has a control character in its value"},
    {"X: a\x7f\n\n", "broken: line 1 has a control character in its value"},
    {"X: 1\n", "broken: it has no end: the output ended before its blank line"},
    {"Status: 404", "broken: it has no end: the output ended before its blank line"},
    {"Status: 404\r", "broken: it has no end: the output ended before its blank line"},
    // The bound: the whole block, its blank line included.
    {"X: 1\n\nbody", "head 200 [] type= location= body@6 | X=1", 6},
    {"X: 1\n\nbody", "broken: it is longer than the limit of 5 bytes", 5},
    {"X: 0123456789abcdef\n\n", "broken: it is longer than the limit of 16 bytes", 16},
    {"Xy: 1\n\n", "broken: it is longer than the limit of 3 bytes", 3},
    {"Xyz: 1\n\n", "not cgi", 3},
};
// clang-format on

}  // namespace

TEST_CASE("cgi head: valid, missing and broken blocks, fed whole, at every split, byte by byte") {
  for (const Row& row : kRows) {
    CAPTURE(row.output);
    CHECK(decode(row.output, {}, row.limit) == row.expected);
    for (size_t cut = 0; cut <= row.output.size(); ++cut) {
      CAPTURE(cut);
      REQUIRE(decode(row.output, {cut}, row.limit) == row.expected);
    }
    std::vector<size_t> every;
    for (size_t i = 1; i < row.output.size(); ++i) every.push_back(i);
    CHECK(decode(row.output, every, row.limit) == row.expected);
  }
}

TEST_CASE("cgi head: decided as early as the bytes allow, and then it stays") {
  CgiHeadDecoder d(1024);
  CHECK(d.feed("hello") == State::NeedMore);
  CHECK(d.feed(" world") == State::NotCgi);  // a space before any ':' is no header name
  CHECK(d.feed("Status: 404\n\n") == State::NotCgi);
  CHECK(d.finish() == State::NotCgi);
  d.reset();
  CHECK(d.feed("Status: 404\r") == State::NeedMore);
  CHECK(d.feed("\n\r") == State::NeedMore);
  CHECK(d.feed("\nbody\nX: y\n") == State::Head);  // the body is not looked at
  CHECK(d.head().body_offset == 15);
  CHECK(d.head().headers.empty());
  d.reset();
  CHECK(d.feed("X: 1\nY") == State::NeedMore);
  CHECK(d.feed(" ") == State::Broken);
  CHECK(d.feed("\n\n") == State::Broken);
}

TEST_CASE("cgi: Fn http-stream carries the head as Fn-Http-Status and Fn-Http-H-*") {
  Config config;
  CgiHead head;
  head.status = 404;
  head.content_type = "text/html";
  head.headers = {{"Location", "/x"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}};
  Outcome ok{Outcome::Kind::Exited, 0};
  for (bool trigger : {false, true}) {
    CAPTURE(trigger);
    const Outcome* const fates[] = {nullptr, &ok};  // streaming, then the end
    for (const Outcome* o : fates) {
      Verdict v = fn_verdict(o, &head, trigger, config);
      CHECK(v.status == 200);  // the container's own: the call succeeded
      CHECK_FALSE(v.failed);
      CHECK(v.output_is_body);
      CHECK(v.content_type == "text/html");
      REQUIRE(v.headers.size() == 4);
      CHECK(v.headers[0].name == "Fn-Http-Status");
      CHECK(v.headers[0].value == "404");
      CHECK(v.headers[1].name == "Fn-Http-H-Location");
      CHECK(v.headers[2].name == "Fn-Http-H-Set-Cookie");
      CHECK(v.headers[3].value == "b=2");
    }
  }
  SUBCASE("no Content-Type in the head: HOTWRAP_CONTENT_TYPE") {
    head.content_type.clear();
    CHECK(fn_verdict(&ok, &head, true, config).content_type == config.content_type);
  }
  SUBCASE("the exit status counts: a failed command's head is not used") {
    Outcome failed{Outcome::Kind::Exited, 3};
    Verdict invoke = fn_verdict(&failed, &head, false, config);
    CHECK(invoke.status == 502);
    CHECK(invoke.failed);
    CHECK(invoke.headers.empty());
    Verdict trigger = fn_verdict(&failed, &head, true, config);
    CHECK(trigger.status == 200);
    CHECK(trigger.failed);
    CHECK(trigger.output_is_body);
    REQUIRE(trigger.headers.size() == 1);
    CHECK(trigger.headers[0].value == "500");
    CHECK(trigger.content_type == config.content_type);
  }
  SUBCASE("a broken head is a failure that names it, also to a trigger's caller") {
    Outcome bad{Outcome::Kind::BadOutput, 0};
    bad.problem = "wrote a broken CGI header block: line 2 has no ':' after a header name";
    Verdict invoke = fn_verdict(&bad, nullptr, false, config);
    CHECK(invoke.status == 502);
    CHECK(
        invoke.message.starts_with("hotwrap: the command wrote a broken CGI header block: line 2"));
    Verdict trigger = fn_verdict(&bad, nullptr, true, config);
    CHECK(trigger.status == 200);
    CHECK(trigger.headers[0].value == "500");
    CHECK_FALSE(trigger.output_is_body);
    CHECK(trigger.message == "hotwrap: the command " + bad.problem + "\n");
  }
}

TEST_CASE("cgi: Fn's legacy formats answer with the head's own status and headers") {
  Config config;
  CgiHead head;
  head.status = 302;
  head.location = "https://example.com/";
  head.headers = {{"Location", "https://example.com/"}};
  Outcome ok{Outcome::Kind::Exited, 0};
  Verdict invoke = fn_verdict(&ok, &head, false, config, FnCgi::Straight);
  CHECK(invoke.status == 302);
  REQUIRE(invoke.headers.size() == 1);
  CHECK(invoke.headers[0].name == "Location");
  CHECK(invoke.content_type == config.content_type);
  Verdict trigger = fn_verdict(&ok, &head, true, config, FnCgi::Straight);
  CHECK(trigger.status == 302);
  REQUIRE(trigger.headers.size() == 2);
  CHECK(trigger.headers[0].name == "Fn-Http-Status");
  CHECK(trigger.headers[0].value == "302");
  SUBCASE("204 and 304 have no body") {
    head.status = 204;
    Verdict v = fn_verdict(&ok, &head, false, config, FnCgi::Straight);
    CHECK(v.status == 204);
    CHECK_FALSE(v.output_is_body);
    CHECK(v.message.empty());
  }
}

namespace {
std::map<std::string, std::string> vars(const CallEnv& env) {
  std::map<std::string, std::string> m;
  for (const auto& [n, v] : env.vars()) {
    CHECK_MESSAGE(m.count(std::string(n)) == 0, n);
    m[std::string(n)] = v;
  }
  return m;
}
}  // namespace

TEST_CASE("cgi request variables: a plain request") {
  std::vector<Header> headers = {
      {"Host", "example.com:8080"},
      {"User-Agent", "curl/8"},
      {"Accept", "a/b"},
      {"Accept", "c/d"},
      {"Cookie", "a=1"},
      {"Cookie", "b=2"},
      {"Content-Type", "text/csv"},
      {"Content-Length", "12"},
      {"Proxy", "http://evil:1"},
      {"Http-Proxy", "x"},
      {"X_Forwarded.For", "bad"},
      {"Connection", "keep-alive"},
      {"Authorization", "Bearer t"},
      {"X-Control", "a\x01"},
      {"X-Empty", ""},
  };
  CallEnv env;
  add_cgi_request_env(env, {.method = "PUT",
                            .target = "/a%20b/%2Fc%00d?x=1&y=%20",
                            .headers = headers,
                            .remote_addr = "192.0.2.1",
                            .remote_port = "5555"});
  auto m = vars(env);
  const std::map<std::string, std::string> expected = {
      {"GATEWAY_INTERFACE", "CGI/1.1"},
      {"REQUEST_METHOD", "PUT"},
      {"REQUEST_URI", "/a%20b/%2Fc%00d?x=1&y=%20"},
      {"SCRIPT_NAME", ""},
      {"PATH_INFO", "/a b//c%00d"},
      {"QUERY_STRING", "x=1&y=%20"},
      {"CONTENT_LENGTH", "12"},
      {"CONTENT_TYPE", "text/csv"},
      {"SERVER_NAME", "example.com"},
      {"SERVER_PORT", "8080"},
      {"SERVER_PROTOCOL", "HTTP/1.1"},
      {"SERVER_SOFTWARE", "hotwrap/" HOTWRAP_VERSION},
      {"REMOTE_ADDR", "192.0.2.1"},
      {"REMOTE_PORT", "5555"},
      {"HTTP_HOST", "example.com:8080"},
      {"HTTP_USER_AGENT", "curl/8"},
      {"HTTP_ACCEPT", "a/b, c/d"},
      {"HTTP_COOKIE", "a=1; b=2"},
      {"HTTP_AUTHORIZATION", "Bearer t"},
      {"HTTP_X_EMPTY", ""},
  };
  CHECK(m == expected);
}

TEST_CASE("cgi request variables: an absolute URL, a chunked body, no query") {
  std::vector<Header> headers = {{"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}};
  SUBCASE("https, user info, no port") {
    CallEnv env;
    add_cgi_request_env(
        env,
        {.method = "GET", .target = "HTTPS://u:p@gw.example/t/app/fn#frag", .headers = headers});
    auto m = vars(env);
    CHECK(m["REQUEST_URI"] == "/t/app/fn");
    CHECK(m["PATH_INFO"] == "/t/app/fn");
    CHECK(m["QUERY_STRING"] == "");
    CHECK(m["SERVER_NAME"] == "gw.example");
    CHECK(m["SERVER_PORT"] == "443");
    CHECK(m["HTTPS"] == "on");
    CHECK(m["HTTP_HOST"] == "gw.example");
    CHECK(m.count("CONTENT_LENGTH") == 0);  // chunked: not known
  }
  SUBCASE("IPv6, a query on the authority, the length given") {
    CallEnv env;
    add_cgi_request_env(env, {.method = "POST",
                              .target = "http://[::1]:9000?q",
                              .headers = headers,
                              .content_length = 7});
    auto m = vars(env);
    CHECK(m["REQUEST_URI"] == "/?q");
    CHECK(m["QUERY_STRING"] == "q");
    CHECK(m["SERVER_NAME"] == "::1");
    CHECK(m["SERVER_PORT"] == "9000");
    CHECK(m.count("HTTPS") == 0);
    CHECK(m["CONTENT_LENGTH"] == "7");
  }
  SUBCASE("no target, no Host, an empty body") {
    CallEnv env;
    add_cgi_request_env(env, {.method = "POST", .target = "", .content_length = 0});
    auto m = vars(env);
    CHECK(m["REQUEST_URI"] == "/");
    CHECK(m["PATH_INFO"] == "/");
    CHECK(m["SERVER_NAME"] == "localhost");
    CHECK(m["SERVER_PORT"] == "80");
    CHECK(m.count("CONTENT_LENGTH") == 0);
    CHECK(m.count("HTTP_HOST") == 0);
  }
}

TEST_CASE("cgi request variables of Fn calls") {
  SUBCASE("a trigger call is its caller's request") {
    std::vector<Header> headers = {
        {"Host", "localhost"},
        {"Transfer-Encoding", "chunked"},
        {"Fn-Call-Id", "01C"},
        {"Fn-Intent", "httprequest"},
        {"Fn-Http-Method", "GET"},
        {"Fn-Http-Request-Url", "http://gw:8080/t/app/cgi/missing?x=1"},
        {"Fn-Http-H-Accept", "text/html"},
        {"Fn-Http-H-Content-Length", "5"},
        {"Fn-Http-H-Proxy", "http://evil"},
        {"Fn-Http-H-Authorization", "Basic dTpw"},
        {"Content-Type", "text/plain"},
        {"User-Agent", "Go-http-client/1.1"},
    };
    CallEnv env;
    add_fn_cgi_env(env, headers, true, "POST", "");
    auto m = vars(env);
    CHECK(m["REQUEST_METHOD"] == "GET");
    CHECK(m["REQUEST_URI"] == "/t/app/cgi/missing?x=1");
    CHECK(m["PATH_INFO"] == "/t/app/cgi/missing");
    CHECK(m["QUERY_STRING"] == "x=1");
    CHECK(m["SERVER_NAME"] == "gw");
    CHECK(m["SERVER_PORT"] == "8080");
    CHECK(m["HTTP_HOST"] == "gw:8080");
    CHECK(m["HTTP_ACCEPT"] == "text/html");
    CHECK(m["HTTP_AUTHORIZATION"] == "Basic dTpw");
    CHECK(m["CONTENT_TYPE"] == "text/plain");
    CHECK(m["CONTENT_LENGTH"] == "5");  // chunked to the container: the caller's length
    CHECK(m.count("HTTP_PROXY") == 0);
    CHECK(m.count("HTTP_USER_AGENT") == 0);  // the agent's, not the caller's
    for (const auto& [n, v] : m) CHECK_FALSE(n.starts_with("HTTP_FN"));
  }
  SUBCASE("an invoke call: the request's own headers but Fn's") {
    std::vector<Header> headers = {
        {"Host", "localhost"},   {"Content-Length", "3"},  {"Fn-Call-Id", "01C"},
        {"Fn_deadline", "soon"}, {"User-Agent", "Go/1.1"}, {"Content-Type", "a/b"},
    };
    CallEnv env;
    add_fn_cgi_env(env, headers, false, "POST", "");
    auto m = vars(env);
    CHECK(m["REQUEST_METHOD"] == "POST");
    CHECK(m["REQUEST_URI"] == "/");
    CHECK(m["CONTENT_LENGTH"] == "3");
    CHECK(m["CONTENT_TYPE"] == "a/b");
    CHECK(m["HTTP_USER_AGENT"] == "Go/1.1");
    CHECK(m["HTTP_HOST"] == "localhost");
    CHECK(m.count("HTTP_FN_CALL_ID") == 0);
    CHECK(m.count("HTTP_FN_DEADLINE") == 0);
  }
  SUBCASE("the container's own variables are never replaced") {
    const char* base[] = {"SERVER_NAME=preset", "PATH=/bin", nullptr};
    BaseEnv be(base);
    CallEnv env;
    add_cgi_request_env(env, {.method = "GET", .target = "http://h/"});
    be.admit(env);
    CHECK(!env.find("SERVER_NAME"));
    CHECK(env.find("REQUEST_METHOD"));
  }
}

namespace {
std::map<std::string, std::string> g_env;
const char* fake_getenv(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}
}  // namespace

TEST_CASE("cgi: HOTWRAP_CGI and --cgi") {
  g_env.clear();
  std::vector<const char*> plain = {"hotwrap", "cat"};
  auto off = parse_config(2, plain.data(), fake_getenv);
  REQUIRE(off);
  CHECK_FALSE(off->config.cgi);
  std::vector<const char*> flag = {"hotwrap", "--cgi", "cat"};
  auto on = parse_config(3, flag.data(), fake_getenv);
  REQUIRE(on);
  CHECK(on->config.cgi);
  g_env["HOTWRAP_CGI"] = "yes";
  auto var = parse_config(2, plain.data(), fake_getenv);
  REQUIRE(var);
  CHECK(var->config.cgi);
  g_env.clear();
  CHECK(help_text().find("HOTWRAP_CGI") != std::string::npos);
}
