// Capture (HOTWRAP_CAPTURE_DIR) and `hotwrap replay`: each contract's calls written as files in
// the documented layout, replayed against the same command (passing) and a changed one (failing
// with the first difference), the budget, cut bodies, and a full disk that leaves calls unharmed.
#include <dirent.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "harness.hpp"
#include "stdio_harness.hpp"
#include "tcp_client.hpp"

using namespace e2e;
using nlohmann::json;

namespace {

// The complete call directories under `dir`, oldest first (one being written is `.partial`).
std::vector<std::string> calls_in(const std::string& dir, bool partial = false) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && (partial || !n.ends_with(".partial"))) out.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json json_file(const std::string& path) {
  json j = json::parse(slurp(path), nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), path << ": " << printable(slurp(path)));
  return j;
}

// Waits until `n` calls are captured under `dir` (a capture is written just after its answer).
std::vector<std::string> wait_calls(const std::string& dir, size_t n) {
  wait_until([&] { return calls_in(dir).size() >= n; }, 3000ms);
  return calls_in(dir);
}

RunResult replay(std::vector<std::string> args) {
  Server::Options o;
  o.argv = {"replay"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.http_stream_defaults = false;
  return run_to_exit(std::move(o), 20000ms);
}

// A command whose answer depends on its input and environment, with a line on stderr.
const char* kUpper = "echo working >&2; tr a-z A-Z; printf ' %s' \"$FN_CALL_ID$Http_Path\"";

struct TcpServer {
  uint16_t port = free_tcp_port();
  std::unique_ptr<Server> srv;
  TcpServer(const char* contract, std::vector<std::string> argv, EnvList env) {
    Server::Options o;
    o.argv = std::move(argv);
    o.http_stream_defaults = false;
    o.wait_ready = false;
    o.env = {{"HOTWRAP_CONTRACT", contract},
             {"HOTWRAP_PORT", std::to_string(port)},
             {"HOTWRAP_METRICS_PORT", "0"},
             {"TMPDIR", "/tmp"}};
    o.env.insert(o.env.end(), env.begin(), env.end());
    srv = std::make_unique<Server>(std::move(o));
    REQUIRE_MESSAGE(srv->wait_stderr(" on port " + std::to_string(port), 5000ms),
                    srv->stderr_text());
  }
};

}  // namespace

TEST_CASE("capture: Fn http-stream calls are written in the layout and replay passes") {
  TempDir cap;
  std::string dir = cap.path() + "/calls";
  {
    Server srv({"sh", "-c", kUpper}, {{"HOTWRAP_CAPTURE_DIR", dir}});
    Conn c = srv.connect();
    Request req{.body = "hello"};
    req.headers.emplace_back("Fn-Call-Id", "call-one");
    Response r = c.call(req);
    CHECK(r.status == 200);
    CHECK(r.body == "HELLO call-one");
    auto calls = wait_calls(dir, 1);
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].ends_with("-000001-call-one"));
    std::string d = dir + "/" + calls[0];
    json q = json_file(d + "/request.json");
    CHECK(q["version"] == 1);
    CHECK(q["contract"] == "fn-http-stream");
    CHECK(q["id"] == "call-one");
    CHECK(q["method"] == "POST");
    CHECK(q["url"] == "/call");
    CHECK(q["env"]["FN_CALL_ID"] == "call-one");
    CHECK(q["body_bytes"] == 5);
    CHECK(q["body_truncated"] == false);
    CHECK(slurp(d + "/request.body") == "hello");
    json a = json_file(d + "/answer.json");
    CHECK(a["status"] == 200);
    CHECK(a["outcome"]["exit_code"] == 0);
    CHECK(a["stderr_tail"] == "working");
    CHECK(slurp(d + "/answer.body") == "HELLO call-one");
    struct stat st{};
    REQUIRE(::stat((d + "/request.body").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);  // request bodies may be secrets
  }
  auto ok = replay({dir});
  INFO(ok.out, ok.err);
  CHECK(exit_code(ok.status) == 0);
  CHECK(ok.out.find("PASS ") != std::string::npos);
  CHECK(ok.out.find("1 calls: 1 passed, 0 failed, 0 skipped") != std::string::npos);
}

TEST_CASE("capture: replay against a changed command fails with the first difference; --update") {
  TempDir cap;
  std::string dir = cap.path() + "/calls";
  {
    Server srv({"sh", "-c", "cat; echo; echo second line"}, {{"HOTWRAP_CAPTURE_DIR", dir}});
    Conn c = srv.connect();
    CHECK(c.call({.body = "first"}).status == 200);
    CHECK(c.call({.body = "again"}).status == 200);
    REQUIRE(wait_calls(dir, 2).size() == 2);
  }
  auto changed = replay({dir, "--", "sh", "-c", "cat; echo; echo second LINE"});
  INFO(changed.out, changed.err);
  CHECK(exit_code(changed.status) == 1);
  CHECK(changed.out.find("FAIL ") != std::string::npos);
  CHECK(changed.out.find("body differs at byte 13 (line 2;") != std::string::npos);
  CHECK(changed.out.find("    expected: second line\n    got:      second LINE\n") !=
        std::string::npos);
  CHECK(changed.out.find("2 calls: 0 passed, 2 failed") != std::string::npos);

  auto failing = replay({dir, "--", "sh", "-c", "cat >/dev/null; echo broken >&2; exit 4"});
  CHECK(exit_code(failing.status) == 1);
  CHECK(failing.out.find("status 502, expected 200 (the command exited with status 4)") !=
        std::string::npos);

  auto update = replay({dir, "--update", "--", "sh", "-c", "cat; echo; echo second LINE"});
  CHECK(exit_code(update.status) == 0);
  CHECK(update.out.find("UPDATED ") != std::string::npos);
  auto now = replay({dir, "--", "sh", "-c", "cat; echo; echo second LINE"});
  INFO(now.out);
  CHECK(exit_code(now.status) == 0);
  CHECK(now.out.find("2 calls: 2 passed") != std::string::npos);
}

TEST_CASE("capture: the http contract, funker and Fn json are captured and replay") {
  TempDir cap;
  SUBCASE("http") {
    std::string dir = cap.path() + "/http";
    {
      TcpServer s("http", {"sh", "-c", kUpper}, {{"HOTWRAP_CAPTURE_DIR", dir}});
      auto a = tcp::call(s.port,
                         "PUT /a/path?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                         "Connection: close\r\nX-Call-Id: h1\r\nX-Extra: yes\r\n\r\nabc",
                         10000ms, false);
      CHECK(a.body.ends_with("\r\n\r\nABC /a/path"));
      REQUIRE(wait_calls(dir, 1).size() == 1);
      std::string d = dir + "/" + calls_in(dir)[0];
      json q = json_file(d + "/request.json");
      CHECK(q["contract"] == "http");
      CHECK(q["method"] == "PUT");
      CHECK(q["url"] == "/a/path?q=1");
      CHECK(q["headers"].dump().find("[\"X-Extra\",\"yes\"]") != std::string::npos);
      CHECK(q["env"]["Http_Path"] == "/a/path");
      json a2 = json_file(d + "/answer.json");
      CHECK(a2["status"] == 200);
      CHECK(a2["headers"].dump().find("[\"X-Call-Id\",\"h1\"]") != std::string::npos);
    }
    auto r = replay({dir});
    INFO(r.out, r.err);
    CHECK(exit_code(r.status) == 0);
  }
  SUBCASE("funker") {
    std::string dir = cap.path() + "/funker";
    {
      TcpServer s("funker", {"sh", "-c", "cat; exit ${FAIL:-0}"}, {{"HOTWRAP_CAPTURE_DIR", dir}});
      CHECK(tcp::call(s.port, "{\"x\":1}").body == "{\"x\":1}");
      REQUIRE(wait_calls(dir, 1).size() == 1);
      json q = json_file(dir + "/" + calls_in(dir)[0] + "/request.json");
      CHECK(q["contract"] == "funker");
      CHECK(q["id"].get<std::string>().size() == 26);
    }
    auto r = replay({dir});
    INFO(r.out, r.err);
    CHECK(exit_code(r.status) == 0);
    auto bad = replay({dir, "--", "sh", "-c", "cat; exit 1"});
    CHECK(exit_code(bad.status) == 1);
    CHECK(bad.out.find("status 500, expected 200") != std::string::npos);
  }
  SUBCASE("Fn json") {
    std::string dir = cap.path() + "/json";
    {
      stdio_e2e::Proc p({.argv = {"sh", "-c", kUpper},
                         .env = {{"FN_FORMAT", "json"}, {"HOTWRAP_CAPTURE_DIR", dir}}});
      json req = {{"call_id", "j1"}, {"body", "json body"}, {"content_type", "text/plain"}};
      REQUIRE(p.write(req.dump() + "\n"));
      std::string line = p.next_line().value_or("");
      REQUIRE(!line.empty());
      CHECK(json::parse(line)["body"] == "JSON BODY j1");
      REQUIRE(wait_calls(dir, 1).size() == 1);
      json q = json_file(dir + "/" + calls_in(dir)[0] + "/request.json");
      CHECK(q["contract"] == "fn-json");
      CHECK(q["env"]["FN_CALL_ID"] == "j1");
    }
    auto r = replay({dir});
    INFO(r.out, r.err);
    CHECK(exit_code(r.status) == 0);
    CHECK(r.out.find("PASS ") != std::string::npos);
  }
}

TEST_CASE("capture: bodies past HOTWRAP_CAPTURE_MAX_BYTES are cut and marked; replay skips them") {
  TempDir cap;
  std::string dir = cap.path() + "/calls";
  {
    Server srv({"cat"}, {{"HOTWRAP_CAPTURE_DIR", dir}, {"HOTWRAP_CAPTURE_MAX_BYTES", "1000"}});
    Conn c = srv.connect();
    std::string big(5000, 'b');
    Response r = c.call({.body = big});
    CHECK(r.body == big);  // the answer is whole
    REQUIRE(wait_calls(dir, 1).size() == 1);
  }
  std::string d = dir + "/" + calls_in(dir)[0];
  json q = json_file(d + "/request.json");
  json a = json_file(d + "/answer.json");
  CHECK(q["body_bytes"] == 5000);
  CHECK(q["body_truncated"] == true);
  CHECK(a["body_bytes"] == 5000);
  CHECK(a["body_truncated"] == true);
  CHECK(slurp(d + "/request.body").size() + slurp(d + "/answer.body").size() == 1000);
  auto r = replay({dir});
  CHECK(exit_code(r.status) == 0);
  CHECK(r.out.find("SKIP ") != std::string::npos);
  CHECK(r.out.find("the request body was cut at 500 of 5000 bytes") != std::string::npos);
}

TEST_CASE("capture: HOTWRAP_CAPTURE_TOTAL_BYTES removes the oldest calls first, earlier runs too") {
  TempDir cap;
  std::string dir = cap.path() + "/calls";
  // A call here is five 4 KiB blocks (its directory and four small files): room for four.
  EnvList env = {{"HOTWRAP_CAPTURE_DIR", dir}, {"HOTWRAP_CAPTURE_TOTAL_BYTES", "100000"}};
  std::string last;
  for (int run = 0; run < 2; ++run) {
    Server srv({"cat"}, env);
    Conn c = srv.connect();
    for (int i = 0; i < 10; ++i) {
      last = "r" + std::to_string(run) + "-call-" + std::to_string(i);
      Request req{.body = std::string(500, 'x')};
      req.headers.emplace_back("Fn-Call-Id", last);
      CHECK(c.call(req).status == 200);
    }
    wait_until([&] { return !calls_in(dir).empty() && calls_in(dir).back().ends_with(last); },
               3000ms);
  }
  auto calls = calls_in(dir);
  INFO(calls.size());
  CHECK(calls.size() == 4);
  CHECK(calls.back().ends_with(last));                          // the newest is kept
  CHECK(calls.front().find("r0-call-0") == std::string::npos);  // the oldest went first
}

TEST_CASE("capture: a full disk leaves the calls unharmed, with one log line") {
  TempDir cap;
  std::string dir = cap.path() + "/full";
  ::mkdir(dir.c_str(), 0700);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k") != 0) {
    skip_test("cannot mount a 64 KiB tmpfs here (needs root)");
    return;
  }
  {
    Server srv({"cat"}, {{"HOTWRAP_CAPTURE_DIR", dir}});
    Conn c = srv.connect();
    std::string body(30000, 'z');
    for (int i = 0; i < 6; ++i) {
      Response r = c.call({.body = body});
      CHECK(r.status == 200);
      CHECK(r.body == body);
    }
    CHECK(srv.wait_stderr("capture: cannot write", 3000ms));
    std::string err = srv.stderr_text();
    INFO(err);
    size_t lines = 0;
    for (size_t at = err.find("capture: cannot write"); at != std::string::npos;
         at = err.find("capture: cannot write", at + 1)) {
      ++lines;
    }
    CHECK(lines == 1);
    CHECK(err.find("No space left on device") != std::string::npos);
    // No partial call is left behind: what is there is whole.
    srv.signal(SIGTERM);
    CHECK(exit_code(srv.wait_exit(5000ms)) == 0);
    for (const auto& n : calls_in(dir, true)) CHECK(!n.ends_with(".partial"));
  }
  ::umount2(dir.c_str(), MNT_DETACH);
}
