// The json format: JSON requests back to back on hotwrap's stdin, one JSON response line per call
// on its stdout, driven the way the old Fn agent drove a hot json container.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "stdio_harness.hpp"

using namespace stdio_e2e;
using nlohmann::json;

namespace {

Options json_format(std::vector<std::string> argv,
                    std::vector<std::pair<std::string, std::string>> env = {}) {
  env.emplace_back("FN_FORMAT", "json");
  return {.argv = std::move(argv), .env = std::move(env)};
}

// A request as the agent writes it (compact, one line).
std::string request(std::string_view body, std::string_view call_id = "c1",
                    const std::string& deadline = deadline_in(60000ms), json headers = {}) {
  json j = {{"call_id", call_id},
            {"deadline", deadline},
            {"body", body},
            {"content_type", "text/plain"},
            {"protocol",
             {{"type", "http"},
              {"method", "POST"},
              {"request_url", "http://localhost:8080/invoke/01FN"},
              {"headers", headers.is_null() ? json::object() : headers}}}};
  return j.dump() + "\n";
}

// The next response line, parsed; fails the test if it is missing or not JSON.
json next_response(Proc& p, Ms timeout = 10000ms) {
  auto line = p.next_line(timeout);
  if (!line) {
    FAIL("no response line; stdout: " << printable(p.unread())
                                      << "; stderr: " << printable(p.err()));
    return {};  // not reached: FAIL ends the test
  }
  json j = json::parse(*line, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << printable(*line));
  return j;
}

void check_fdk(const json& r) {
  CHECK(r["protocol"]["headers"]["Fn-Fdk-Version"] == json::array({"hotwrap/0.1.0"}));
  CHECK(r["protocol"]["headers"]["Fn-Fdk-Runtime"].size() == 1);
}

}  // namespace

TEST_CASE("json: two calls on one process, back to back, each with its own environment") {
  Proc p(json_format({"sh", "-c",
                      "printf '%s|%s|%s|%s|' \"$FN_CALL_ID\" \"$FN_CONTENT_TYPE\" \"$FN_METHOD\" "
                      "\"$FN_REQUEST_URL\"; cat"}));
  // No separator at all between the two objects, and the second split mid-string.
  std::string a = request("first", "call-a");
  a.pop_back();
  std::string b = request("second \"quoted\" {brace}", "call-b");
  REQUIRE(p.write(a + b.substr(0, 20)));
  REQUIRE(p.write(b.substr(20)));
  json r1 = next_response(p);
  json r2 = next_response(p);
  CHECK(r1["body"] == "call-a|text/plain|POST|http://localhost:8080/invoke/01FN|first");
  CHECK(r2["body"] ==
        "call-b|text/plain|POST|http://localhost:8080/invoke/01FN|second \"quoted\" {brace}");
  for (const json& r : {r1, r2}) {
    CHECK(r["protocol"]["status_code"] == 200);
    CHECK(r["content_type"] == "application/octet-stream");
    check_fdk(r);
  }
  p.close_stdin();
  check_exit(p, 0);
  CHECK(p.unread().empty());  // stdout carries the responses and nothing else
}

TEST_CASE("json: headers map to the same variables as in http-stream") {
  Proc p(json_format({"sh", "-c", "echo \"$FN_HTTP_H_MY_HEADER|$FN_HTTP_METHOD|$FN_INTENT\""}));
  json headers = {{"Fn-Http-H-My-Header", {"a", "b"}},
                  {"Fn-Http-Method", {"GET"}},
                  {"Fn-Intent", {"httprequest"}}};
  REQUIRE(p.write(request("", "c1", deadline_in(60000ms), headers)));
  json r = next_response(p);
  CHECK(r["body"] == "a, b|GET|httprequest\n");
  CHECK(r["protocol"]["headers"]["Fn-Http-Status"] == json::array({"200"}));
}

TEST_CASE("json: calls run strictly one after another, in order") {
  std::string dir = "/tmp/hwjson." + std::to_string(::getpid());
  ::rmdir(dir.c_str());
  // A second process starting while the first runs would find the marker.
  Proc p(json_format({"sh", "-c",
                      "read n; [ -e " + dir + " ] && echo overlap; mkdir " + dir +
                          "; sleep 0.1; rmdir " + dir + "; echo \"done $n\""}));
  std::string all;
  for (int i = 0; i < 4; ++i) all += request(std::to_string(i) + "\n", "c" + std::to_string(i));
  REQUIRE(p.write(all));
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    json r = next_response(p);
    CHECK(r["body"] == "done " + std::to_string(i) + "\n");
  }
}

TEST_CASE(
    "json: failures answer 502 (or 200 + Fn-Http-Status: 500 on a trigger), the next call "
    "is served") {
  struct Case {
    std::vector<std::string> argv;
    const char* phrase;
  };
  const std::vector<Case> cases = {
      {{"sh", "-c", "echo partial; exit 3"}, "exited with status 3"},
      {{"sh", "-c", "echo partial; kill -9 $$"}, "killed by signal 9"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.phrase);
    Proc p(json_format(c.argv));
    REQUIRE(p.write(request("x")));
    json r = next_response(p);
    CHECK(r["protocol"]["status_code"] == 502);
    CHECK(r["content_type"] == "text/plain; charset=utf-8");
    CHECK(r["body"].get<std::string>().find(c.phrase) != std::string::npos);
    check_fdk(r);
    // Trigger call: the caller still gets the output, the status rides in Fn-Http-Status.
    REQUIRE(p.write(request("x", "c2", deadline_in(60000ms), {{"Fn-Intent", {"httprequest"}}})));
    json t = next_response(p);
    CHECK(t["protocol"]["status_code"] == 200);
    CHECK(t["protocol"]["headers"]["Fn-Http-Status"] == json::array({"500"}));
    CHECK(t["body"] == "partial\n");
  }
}

TEST_CASE("json: the deadline is answered with 504 before it, and the process serves on") {
  Proc p(json_format({"sh", "-c", "read m; [ \"$m\" = slow ] && exec sleep 30; echo fast"}));
  // No later than the deadline sent (which is truncated to milliseconds).
  auto wall_deadline = WallClock::now() + 1500ms - 2ms;
  std::string deadline = deadline_in(1500ms);
  REQUIRE(p.write(request("slow\n", "c-slow", deadline)));
  json r = next_response(p, 5000ms);
  auto answered = WallClock::now();
  CHECK(r["protocol"]["status_code"] == 504);
  CHECK(answered < wall_deadline);  // the margin: 504 goes out before the deadline
  // The command is gone a kill grace later (it ends at its SIGTERM).
  CHECK(p.wait_for([&] { return p.descendants().empty(); }, 2000ms));
  REQUIRE(p.write(request("quick\n", "c-next")));
  json next = next_response(p);
  CHECK(next["protocol"]["status_code"] == 200);
  CHECK(next["body"] == "fast\n");
}

TEST_CASE("json: output that is not UTF-8 still makes valid JSON (U+FFFD per bad sequence)") {
  const std::string fffd = "\xef\xbf\xbd";
  Proc p(json_format({"printf", "ok \\377 \\303( \\342\\202 \\360\\237\\230\\200 end"}));
  REQUIRE(p.write(request("")));
  json r = next_response(p);
  CHECK(r["protocol"]["status_code"] == 200);
  CHECK(r["body"] == "ok " + fffd + " " + fffd + "( " + fffd + " \xf0\x9f\x98\x80 end");
  SUBCASE("also when the output streams past the buffer, whatever the pipe's chunks") {
    Proc big(json_format({"sh", "-c",
                          "i=0; while [ $i -lt 20000 ]; do printf '\\342\\230\\225\\377'; "
                          "i=$((i+1)); done"},
                         {{"HOTWRAP_BUFFER_BYTES", "4096"}}));
    REQUIRE(big.write(request("")));
    json b = next_response(big, 30000ms);
    std::string expected;
    for (int i = 0; i < 20000; ++i) expected += "\xe2\x98\x95" + fffd;
    CHECK(b["body"] == expected);
  }
}

TEST_CASE("json: big bodies both ways; past HOTWRAP_BUFFER_BYTES the body streams") {
  Proc p(json_format({"cat"}, {{"HOTWRAP_BUFFER_BYTES", "65536"}}));
  std::string body;
  for (int i = 0; body.size() < 3'000'000; ++i) body += "line " + std::to_string(i) + "\n";
  REQUIRE(p.write(request(body), 20000ms));
  json r = next_response(p, 30000ms);
  CHECK(r["protocol"]["status_code"] == 200);
  CHECK(r["body"] == body);
  SUBCASE("a failure after the body began streaming still gets its status") {
    Proc f(json_format({"sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x; exit 3"},
                       {{"HOTWRAP_BUFFER_BYTES", "1024"}}));
    REQUIRE(f.write(request("")));
    json e = next_response(f, 20000ms);
    CHECK(e["protocol"]["status_code"] == 502);
    CHECK(e["body"] == std::string(200000, 'x'));  // already on its way: it stays the body
  }
}

TEST_CASE("json: a bad request with a known end is answered, and the stream goes on") {
  Proc p(json_format({"cat"}, {{"HOTWRAP_MAX_BODY_BYTES", "10"}}));
  std::string bad_json = "{\"body\":\"\xff\"}\n";  // well-formed but for its UTF-8
  std::string bad_type = "{\"body\":1}\n";
  std::string too_big = request(std::string(11, 'b'));
  REQUIRE(p.write(bad_json + bad_type + too_big + request("fine")));
  json r1 = next_response(p);
  CHECK(r1["protocol"]["status_code"] == 502);
  CHECK(r1["body"] ==
        "hotwrap: invalid JSON at byte 9 (in the request at byte 0): syntax error while parsing "
        "value - invalid string: ill-formed UTF-8 byte; last read: '\"\xef\xbf\xbd'\n");
  json r2 = next_response(p);
  CHECK(r2["protocol"]["status_code"] == 502);
  CHECK(r2["body"] == "hotwrap: the request at byte " + std::to_string(bad_json.size()) +
                          ": 'body' must be a string\n");
  json r3 = next_response(p);
  CHECK(r3["protocol"]["status_code"] == 413);
  json r4 = next_response(p);
  CHECK(r4["protocol"]["status_code"] == 200);
  CHECK(r4["body"] == "fine");
  for (const json& r : {r1, r2, r3}) {
    CHECK(r["content_type"] == "text/plain; charset=utf-8");
    check_fdk(r);
  }
  // Each is logged once, naming the problem and where it is.
  CHECK(p.err().find("hotwrap: warn: invalid JSON at byte 9") != std::string::npos);
}

TEST_CASE(
    "json: a request that is not JSON is answered at its first impossible byte, then exit 1") {
  Proc p(json_format({"cat"}));
  std::string first = request("before");
  // No EOF and no closing brace: the answer must not wait for either.
  REQUIRE(p.write(first + "{not json"));
  CHECK(next_response(p)["body"] == "before");
  json r = next_response(p, 3000ms);
  CHECK(r["protocol"]["status_code"] == 502);
  std::string expect = "invalid JSON at byte " + std::to_string(first.size() + 1) +
                       " (in the request at byte " + std::to_string(first.size()) +
                       "): expected a key (a JSON string) or '}', found 'n'";
  CHECK(r["body"] == "hotwrap: " + expect + "\n");
  check_exit(p, 1, 3000ms);
  CHECK(p.err().find("hotwrap: error: " + expect) != std::string::npos);
}

TEST_CASE(
    "json: garbage between requests stops hotwrap (exit 1) after answering what came "
    "before") {
  Proc p(json_format({"cat"}));
  std::string first = request("before");
  REQUIRE(p.write(first + "HELLO\n" + request("after")));
  json r = next_response(p);
  CHECK(r["body"] == "before");
  check_exit(p, 1);
  CHECK(p.unread().empty());  // nothing for "after": its boundary cannot be trusted
  CHECK(p.err().find("hotwrap: error: expected a JSON object ('{') at byte " +
                     std::to_string(first.size()) + ", found 'H'") != std::string::npos);
}

TEST_CASE("json: EOF") {
  SUBCASE("after the last request: every call is answered, then exit 0") {
    Proc p(json_format({"sh", "-c", "sleep 0.2; cat"}));
    REQUIRE(p.write(request("one") + request("two")));
    p.close_stdin();
    CHECK(next_response(p)["body"] == "one");
    CHECK(next_response(p)["body"] == "two");
    check_exit(p, 0);
    CHECK(p.err().empty());
  }
  SUBCASE("inside a request: one line naming the offsets, exit 1") {
    Proc p(json_format({"cat"}));
    std::string first = request("one");
    REQUIRE(p.write(first + "{\"body\":\"cut sh"));
    p.close_stdin();
    CHECK(next_response(p)["body"] == "one");
    check_exit(p, 1);
    CHECK(p.err().find("the input ended at byte " + std::to_string(first.size() + 15) +
                       " inside the request that began at byte " + std::to_string(first.size())) !=
          std::string::npos);
  }
  SUBCASE("no input at all (/dev/null)") {
    Options o = json_format({"cat"});
    o.in = Options::Stdin::DevNull;
    Proc p(o);
    check_exit(p, 0);
    CHECK(p.out().empty());
  }
}

TEST_CASE("json: requests from a file (hotwrap < requests.json)") {
  std::string path = "/tmp/hwjson-req." + std::to_string(::getpid());
  std::string content;
  for (int i = 0; i < 50; ++i) content += request("req " + std::to_string(i));
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
  Options o = json_format({"cat"});
  o.in = Options::Stdin::File;
  o.stdin_file = path;
  Proc p(o);
  for (int i = 0; i < 50; ++i) CHECK(next_response(p)["body"] == "req " + std::to_string(i));
  check_exit(p, 0);
  std::remove(path.c_str());
}

TEST_CASE("json: log frames go to stderr only; stdout stays the protocol") {
  Proc p(json_format({"sh", "-c", "echo to-stderr >&2; cat"},
                     {{"FN_LOGFRAME_NAME", "fn_call"}, {"FN_LOGFRAME_HDR", "Fn-Call-Id"}}));
  REQUIRE(p.write(request("x", "frame-1") + request("y", "frame-2")));
  CHECK(next_response(p)["body"] == "x");
  CHECK(next_response(p)["body"] == "y");
  CHECK(p.wait_err("\nfn_call=frame-2\n", 3000ms));
  std::string err = p.err();
  CHECK(err.find("\nfn_call=frame-1\n") < err.find("to-stderr"));
  CHECK(p.unread().empty());
}

TEST_CASE("json: SIGTERM lets the running call answer, then exit 0") {
  Proc p(json_format({"sh", "-c", "echo started >&2; sleep 0.3; echo done"}));
  REQUIRE(p.write(request("")));
  REQUIRE(p.wait_err("started", 5000ms));
  p.signal(SIGTERM);
  CHECK(next_response(p)["body"] == "done\n");
  check_exit(p, 0);
}

TEST_CASE("json: with HOTWRAP_PRESPAWN the call's variables are in FN_CALL_ENV_FILE") {
  Proc p(json_format({"sh", "-c", "cat; . \"$FN_CALL_ENV_FILE\"; echo \" $FN_CALL_ID $FN_METHOD\""},
                     {{"HOTWRAP_PRESPAWN", "1"}}));
  REQUIRE(p.write(request("one", "pre-1") + request("two", "pre-2")));
  CHECK(next_response(p)["body"] == "one pre-1 POST\n");
  CHECK(next_response(p)["body"] == "two pre-2 POST\n");
}

TEST_CASE("json: stderr sharing stdout's pipe: the command still gets a blocking stderr") {
  // hotwrap makes its stdout non-blocking; with `2>&1` that is its stderr too, which the command
  // must not inherit. Its stderr then goes through hotwrap, and still arrives.
  Options opts = json_format({"sh", "-c",
                              "cat >/dev/null; echo to-stderr >&2; "
                              "awk '$1 == \"flags:\" { print $2 }' /proc/self/fdinfo/2"});
  opts.stderr_is_stdout = true;
  Proc p(opts);
  REQUIRE(p.write(request("x", "shared-1")));
  // Both arrive on the one pipe, the relayed line and the response, in either order.
  std::vector<std::string> lines;
  for (int i = 0; i < 2; ++i) {
    if (auto line = p.next_line()) {
      lines.push_back(*line);
    } else {
      FAIL("stdout: " << printable(p.out()));
    }
  }
  CHECK(std::find(lines.begin(), lines.end(), "[shared-1] to-stderr") != lines.end());
  auto response = std::find_if(lines.begin(), lines.end(), [](auto& l) { return l[0] == '{'; });
  REQUIRE(response != lines.end());
  std::string flags = json::parse(*response)["body"].get<std::string>();
  INFO("fd 2 flags: " << flags);
  REQUIRE(!flags.empty());
  CHECK((std::stoul(flags, nullptr, 8) & O_NONBLOCK) == 0);
}

TEST_CASE("json: HUP, QUIT, USR1 and USR2 to hotwrap reach the running call's command") {
  for (auto [sig, name] : {std::pair{SIGHUP, "HUP"}, std::pair{SIGQUIT, "QUIT"},
                           std::pair{SIGUSR1, "USR1"}, std::pair{SIGUSR2, "USR2"}}) {
    CAPTURE(name);
    std::string script = std::string("trap 'echo got-") + name + "; exit 0' " + name +
                         "; echo ready >&2; while :; do sleep 0.02; done";
    Proc p(json_format({"sh", "-c", script}));
    REQUIRE(p.write(request("x")));
    REQUIRE(p.wait_err("ready\n", 5000ms));
    p.signal(sig);
    json r = next_response(p, 5000ms);
    CHECK(r["protocol"]["status_code"] == 200);
    CHECK(r["body"] == std::string("got-") + name + "\n");
    CHECK_FALSE(p.exited());
  }
}

TEST_CASE("json: a failed call's answer carries the end of its stderr") {
  Proc p(json_format({"sh", "-c", "cat >/dev/null; echo 'no decode delegate' >&2; exit 1"}));
  REQUIRE(p.write(request("x", "c-fail")));
  json r = next_response(p);
  CHECK(r["protocol"]["status_code"] == 502);
  CHECK(r["body"] ==
        "hotwrap: the command exited with status 1\nthe end of its stderr:\n"
        "no decode delegate\n");
}
