// The legacy http format: HTTP/1.1 requests back to back on hotwrap's stdin (as Go's
// Request.Write puts them), one response each on its stdout.
#include <doctest/doctest.h>
#include <signal.h>

#include "stdio_harness.hpp"

using namespace stdio_e2e;

namespace {

Options http_format(std::vector<std::string> argv,
                    std::vector<std::pair<std::string, std::string>> env = {}) {
  env.emplace_back("FN_FORMAT", "http");
  return {.argv = std::move(argv), .env = std::move(env)};
}

// A request as the agent writes it: Content-Length framing, the Fn_ headers.
std::string request(std::string_view body, std::string_view call_id = "c1",
                    const std::string& deadline = deadline_in(60000ms, true),
                    std::string_view extra_headers = "") {
  return "POST /invoke/01FN HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\nAccept: */*\r\nContent-Type: text/plain\r\n" +
         std::string(extra_headers) + "Fn_call_id: " + std::string(call_id) +
         "\r\nFn_deadline: " + deadline +
         "\r\nFn_method: POST\r\nFn_request_url: http://localhost:8080/invoke/01FN\r\n\r\n" +
         std::string(body);
}

Proc::HttpResponse next(Proc& p, Ms timeout = 10000ms) {
  if (auto r = p.next_http_response(timeout)) return *r;
  FAIL("no response; stderr: " << printable(p.err()));
  return {};  // not reached: FAIL ends the test
}

void check_fdk(const Proc::HttpResponse& r) {
  CHECK(r.header("Fn-Fdk-Version") == "hotwrap/0.1.0");
  CHECK(r.header("Fn-Fdk-Runtime").has_value());
}

}  // namespace

TEST_CASE("http: pipelined requests, Content-Length and chunked, each with its environment") {
  Proc p(http_format({"sh", "-c",
                      "printf '%s|%s|%s|%s|%s|' \"$FN_CALL_ID\" \"$FN_METHOD\" \"$FN_REQUEST_URL\" "
                      "\"$FN_CONTENT_TYPE\" \"${FN_DEADLINE:+set}\"; cat"}));
  std::string chunked =
      "POST /invoke/01FN HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
      "Fn_call_id: c-chunked\r\nFn_method: PUT\r\nFn_request_url: http://h/x?y=1\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  // Both in one write: the second waits for the first to be answered.
  REQUIRE(p.write(request("first", "c-length") + chunked));
  auto r1 = next(p);
  auto r2 = next(p);
  CHECK(r1.status == 200);
  CHECK(r1.body == "c-length|POST|http://localhost:8080/invoke/01FN|text/plain|set|first");
  CHECK(r1.header("Content-Length") == std::to_string(r1.body.size()));
  CHECK(r1.header("Content-Type") == "application/octet-stream");
  check_fdk(r1);
  CHECK(r2.status == 200);
  CHECK(r2.body == "c-chunked|PUT|http://h/x?y=1|||hello world");
  p.close_stdin();
  check_exit(p, 0);
  CHECK(p.unread().empty());
}

TEST_CASE("http: a GET without a body is an empty body") {
  Proc p(http_format({"wc", "-c"}));
  REQUIRE(p.write("GET /t/app/fn?q=1 HTTP/1.1\r\nHost: localhost\r\nFn_call_id: g1\r\n\r\n" +
                  request("four")));
  CHECK(next(p).body.find('0') != std::string::npos);
  CHECK(next(p).body.find('4') != std::string::npos);
}

TEST_CASE("http: Connection: close and HTTP/1.0 do not end the stream") {
  Proc p(http_format({"cat"}));
  REQUIRE(p.write(request("one", "c1", deadline_in(60000ms, true), "Connection: close\r\n") +
                  "POST /x HTTP/1.0\r\nContent-Length: 3\r\n\r\ntwo" + request("three")));
  CHECK(next(p).body == "one");
  CHECK(next(p).body == "two");
  CHECK(next(p).body == "three");
}

TEST_CASE("http: failures answer 502, trigger calls 200 + Fn-Http-Status: 500, and it serves on") {
  Proc p(http_format({"sh", "-c", "read m; echo partial; [ \"$m\" = ok ] || exit 3"}));
  REQUIRE(p.write(request("fail\n")));
  auto r = next(p);
  CHECK(r.status == 502);
  CHECK(r.body.find("exited with status 3") != std::string::npos);
  CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
  check_fdk(r);
  REQUIRE(p.write(request("fail\n", "c2", deadline_in(60000ms, true),
                          "Fn-Intent: httprequest\r\nFn-Http-Method: GET\r\n")));
  auto t = next(p);
  CHECK(t.status == 200);
  CHECK(t.header("Fn-Http-Status") == "500");
  CHECK(t.body == "partial\n");
  REQUIRE(p.write(request("ok\n", "c3")));
  auto ok = next(p);
  CHECK(ok.status == 200);
  CHECK(ok.body == "partial\n");
}

TEST_CASE("http: Fn_deadline is answered with 504 before it, and the process serves on") {
  Proc p(http_format({"sh", "-c", "read m; [ \"$m\" = slow ] && exec sleep 30; echo fast"}));
  // Whole seconds, as the agent sends them: between 1 and 2 s away.
  std::string deadline = deadline_in(1000ms, true);
  REQUIRE(p.write(request("slow\n", "c-slow", deadline)));
  auto r = next(p, 5000ms);
  CHECK(r.status == 504);
  CHECK(p.wait_for([&] { return p.descendants().empty(); }, 2000ms));
  REQUIRE(p.write(request("quick\n", "c-next")));
  auto n = next(p);
  CHECK(n.status == 200);
  CHECK(n.body == "fast\n");
}

TEST_CASE("http: the body is passed byte for byte, UTF-8 or not") {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  Proc p(http_format({"cat"}));
  REQUIRE(p.write(request(binary + binary)));
  CHECK(next(p).body == binary + binary);
}

TEST_CASE("http: past HOTWRAP_BUFFER_BYTES the response is chunked") {
  Proc p(http_format({"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' z"},
                     {{"HOTWRAP_BUFFER_BYTES", "65536"}}));
  REQUIRE(p.write(request("")));
  auto r = next(p);
  CHECK(r.status == 200);
  CHECK(r.chunked);
  CHECK(r.body == std::string(300000, 'z'));
  SUBCASE("a failure after streaming began: no final chunk, hotwrap stops (exit 1)") {
    Proc f(http_format({"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' z; exit 3"},
                       {{"HOTWRAP_BUFFER_BYTES", "65536"}}));
    REQUIRE(f.write(request("") + request("never")));
    check_exit(f, 1);
    // The response began as a chunked 200 and never gets its terminating chunk.
    CHECK(f.unread().starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(f.unread().find("Transfer-Encoding: chunked\r\n") != std::string_view::npos);
    CHECK_FALSE(f.unread().ends_with("\r\n0\r\n\r\n"));
    CHECK(f.err().find("failed after the response began streaming") != std::string::npos);
  }
}

TEST_CASE("http: garbage gets a 400 and stops hotwrap (exit 1) with the byte offset") {
  Proc p(http_format({"cat"}));
  std::string first = request("ok");
  REQUIRE(p.write(first + "HELLO THERE\r\n\r\n"));
  CHECK(next(p).body == "ok");
  auto bad = next(p);
  CHECK(bad.status == 400);
  CHECK(bad.header("Connection") == "close");
  check_fdk(bad);
  check_exit(p, 1);
  // "HE" could begin HEAD: llhttp stops at the 'L'.
  CHECK(p.err().find("hotwrap: error: bad request (400) at byte " +
                     std::to_string(first.size() + 2) + " of the input") != std::string::npos);
}

TEST_CASE("http: EOF") {
  SUBCASE("after the last request: every call is answered, then exit 0") {
    Proc p(http_format({"sh", "-c", "sleep 0.2; cat"}));
    REQUIRE(p.write(request("one") + request("two")));
    p.close_stdin();
    CHECK(next(p).body == "one");
    CHECK(next(p).body == "two");
    check_exit(p, 0);
    CHECK(p.err().empty());
  }
  SUBCASE("inside a request body: the command is killed, one line, exit 1") {
    Proc p(http_format({"sh", "-c", "echo started >&2; exec cat"}));
    std::string req = request("0123456789");
    REQUIRE(p.write(req.substr(0, req.size() - 4)));
    REQUIRE(p.wait_err("started", 5000ms));
    std::vector<pid_t> cmd = p.descendants();
    p.close_stdin();
    check_exit(p, 1);
    CHECK(p.out().empty());
    CHECK(p.err().find("the input ended in the middle of a request, at byte " +
                       std::to_string(req.size() - 4)) != std::string::npos);
    for (pid_t pid : cmd) CHECK(p.wait_for([&] { return !alive(pid); }, 3000ms));
  }
  SUBCASE("no input at all (/dev/null)") {
    Options o = http_format({"cat"});
    o.in = Options::Stdin::DevNull;
    Proc p(o);
    check_exit(p, 0);
    CHECK(p.out().empty());
  }
}

TEST_CASE("http: log frames go to stderr only, keyed on Fn_call_id for Fn-Call-Id") {
  Proc p(
      http_format({"cat"}, {{"FN_LOGFRAME_NAME", "fn_call"}, {"FN_LOGFRAME_HDR", "Fn-Call-Id"}}));
  REQUIRE(p.write(request("x", "frame-1")));
  CHECK(next(p).body == "x");
  CHECK(p.wait_err("\nfn_call=frame-1\n", 3000ms));
  CHECK(p.unread().empty());
}

TEST_CASE("http: SIGTERM lets the running call answer, then exit 0") {
  Proc p(http_format({"sh", "-c", "echo started >&2; sleep 0.3; echo done"}));
  REQUIRE(p.write(request("")));
  REQUIRE(p.wait_err("started", 5000ms));
  p.signal(SIGTERM);
  CHECK(next(p).body == "done\n");
  check_exit(p, 0);
}

TEST_CASE("http: no zombies and no descriptor growth over many calls") {
  Proc p(http_format({"sh", "-c", "read m; [ \"$m\" = fail ] && exit 1; echo ok"}));
  REQUIRE(p.write(request("ok\n")));
  next(p);
  // A call's pipes close a moment after its answer has left: counted once hotwrap holds still.
  int fds = -1;
  int same = 0;
  p.wait_for(
      [&] {
        int now = p.fd_count();
        same = now == fds ? same + 1 : 0;
        fds = now;
        return same >= 3;
      },
      2000ms);
  for (int i = 0; i < 60; ++i) {
    REQUIRE(p.write(request(i % 3 == 0 ? "fail\n" : "ok\n", "c" + std::to_string(i))));
    next(p);
  }
  CHECK(p.wait_for([&] { return p.zombies().empty(); }, 3000ms));
  CHECK_MESSAGE(p.wait_for([&] { return p.fd_count() == fds; }, 3000ms),
                "descriptors " << p.fd_count() << ", baseline " << fds);
}

TEST_CASE("http: a body passing HOTWRAP_MAX_BODY_BYTES while its call runs gets a 413, exit 1") {
  Proc p(http_format({"sh", "-c", "echo started >&2; cat"}, {{"HOTWRAP_MAX_BODY_BYTES", "10"}}));
  REQUIRE(
      p.write("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nFn_call_id: big\r\n\r\n"
              "6\r\nabcdef\r\n"));
  REQUIRE(p.wait_err("started", 5000ms));
  REQUIRE(p.write("6\r\nghijkl\r\n0\r\n\r\n"));
  auto r = next(p);
  CHECK(r.status == 413);
  CHECK(r.header("Connection") == "close");
  check_exit(p, 1);
  CHECK(p.err().find("bad request (413)") != std::string::npos);
}

TEST_CASE("http: HUP, QUIT, USR1 and USR2 to hotwrap reach the running call's command") {
  for (auto [sig, name] : {std::pair{SIGHUP, "HUP"}, std::pair{SIGQUIT, "QUIT"},
                           std::pair{SIGUSR1, "USR1"}, std::pair{SIGUSR2, "USR2"}}) {
    CAPTURE(name);
    std::string script = std::string("trap 'echo got-") + name + "; exit 0' " + name +
                         "; echo ready >&2; while :; do sleep 0.02; done";
    Proc p(http_format({"sh", "-c", script}));
    REQUIRE(p.write(request("x")));
    REQUIRE(p.wait_err("ready\n", 5000ms));
    p.signal(sig);
    auto r = next(p, 5000ms);
    CHECK(r.status == 200);
    CHECK(r.body == std::string("got-") + name + "\n");
    CHECK_FALSE(p.exited());
  }
}

TEST_CASE("http: a failed call's answer carries the end of its stderr") {
  Proc p(http_format({"sh", "-c", "cat >/dev/null; echo 'no decode delegate' >&2; exit 1"}));
  REQUIRE(p.write(request("x")));
  auto r = next(p);
  CHECK(r.status == 502);
  CHECK(r.body ==
        "hotwrap: the command exited with status 1\nthe end of its stderr:\n"
        "no decode delegate\n");
}
