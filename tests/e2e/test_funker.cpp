// The funker contract: hotwrap on a TCP port, driven by clients that speak Funker's exact wire —
// connect, write one JSON value, shutdown(SHUT_WR), read to EOF — in C++ (here) and in Python
// (funker-python's call(), verbatim but for the port).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <thread>

#include "harness.hpp"
#include "tcp_client.hpp"

using namespace e2e;
using FunkerAnswer = e2e::tcp::Answer;

namespace {

struct FunkerServer {
  uint16_t port = free_tcp_port();
  std::unique_ptr<Server> srv;

  explicit FunkerServer(std::vector<std::string> argv, EnvList env = {}) {
    Server::Options o;
    o.argv = std::move(argv);
    o.http_stream_defaults = false;
    o.wait_ready = false;
    o.env = {{"HOTWRAP_CONTRACT", "funker"},
             {"HOTWRAP_PORT", std::to_string(port)},
             {"HOTWRAP_LOG_CALLS", "1"}};
    for (auto& e : env) o.env.push_back(std::move(e));
    srv = std::make_unique<Server>(std::move(o));
    // A connection is a call, so readiness is the start-up line, not a probe.
    REQUIRE_MESSAGE(srv->wait_stderr("serving funker on port " + std::to_string(port), 5000ms),
                    srv->stderr_text());
  }
};

// funker-python's call() (funker/call.py), with the port as a parameter; prints repr(result).
const char* kPythonCaller = R"PY(
import json, socket, sys

def call(name, port, **kwargs):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((name, port))
    sock.sendall(json.dumps(kwargs).encode('utf-8'))
    sock.shutdown(socket.SHUT_WR)
    chunks = []
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        chunks.append(chunk)
    sock.close()
    response = b''.join(chunks)
    if not response:
        return None
    return json.loads(response.decode('utf-8'))

port = int(sys.argv[1])
print(repr(call('127.0.0.1', port, x=1, y=[2, 3])))
)PY";

struct PythonResult {
  int status = -1;  // the shell's status of `timeout 20 python3 ...`
  std::string out;  // stdout and stderr
};

PythonResult python_call(uint16_t port) {
  TempDir tmp;
  std::string script = tmp.write_file("call.py", kPythonCaller);
  std::string cmd = "timeout 20 python3 " + script + " " + std::to_string(port) + " 2>&1";
  PythonResult r;
  FILE* p = ::popen(cmd.c_str(), "re");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  r.status = ::pclose(p);
  return r;
}

}  // namespace

TEST_CASE("funker: a JSON call is answered with stdout and hotwrap serves the next connection") {
  FunkerServer s({"cat"});
  for (int i = 0; i < 3; ++i) {
    std::string req = "{\"n\":" + std::to_string(i) + "}";
    auto a = tcp::call(s.port, req);
    CHECK(a.eof);
    CHECK(a.body == req);
  }
  CHECK(!s.srv->exited());
  // Each call logged its summary, with its own id.
  CHECK(s.srv->wait_stderr("200: the command exited with status 0", 2000ms));
}

TEST_CASE("funker: funker-python's call() gets the command's JSON, and None for a failed call") {
  FunkerServer ok({"cat"});
  auto r = python_call(ok.port);
  INFO(r.out);
  CHECK(exit_code(r.status) == 0);
  CHECK(r.out == "{'x': 1, 'y': [2, 3]}\n");

  FunkerServer bad({"sh", "-c", "cat >/dev/null; echo '{\"partial\":'; echo boom >&2; exit 3"});
  auto f = python_call(bad.port);
  INFO(f.out);
  CHECK(exit_code(f.status) == 0);
  CHECK(f.out == "None\n");
  CHECK(bad.srv->wait_stderr("500: the command exited with status 3", 2000ms));
  // The stderr line carries the call id, as does the summary line.
  std::string err = bad.srv->stderr_text();
  auto at = err.find("] boom");
  REQUIRE(at != std::string::npos);
  auto open = err.rfind('[', at);
  std::string id = err.substr(open + 1, at - open - 1);
  CHECK(id.size() == 26);
  CHECK(err.find("call " + id + ": 500:") != std::string::npos);
}

TEST_CASE("funker: the command sees HOTWRAP_CALL_ID, a time-sortable id unique per call") {
  FunkerServer s({"sh", "-c", "cat >/dev/null; printf '\"%s\"' \"$HOTWRAP_CALL_ID\""});
  auto a = tcp::call(s.port, "{}");
  auto b = tcp::call(s.port, "{}");
  REQUIRE(a.body.size() == 28);
  REQUIRE(b.body.size() == 28);
  CHECK(a.body < b.body);
  CHECK(s.srv->wait_stderr("call " + a.body.substr(1, 26) + ": 200", 2000ms));
}

TEST_CASE("funker: several callers at once are served at once") {
  FunkerServer s({"sh", "-c", "sleep 0.5; cat"});
  constexpr int kCallers = 6;
  std::vector<FunkerAnswer> answers(kCallers);
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] { answers[i] = tcp::call(s.port, "[" + std::to_string(i) + "]"); });
  }
  for (auto& t : threads) t.join();
  auto took = std::chrono::duration_cast<Ms>(Clock::now() - t0);
  for (int i = 0; i < kCallers; ++i) {
    CHECK(answers[i].eof);
    CHECK(answers[i].body == "[" + std::to_string(i) + "]");
  }
  CHECK(took < 2500ms);  // six calls of 0.5 s one after the other would take 3 s
  // And from Python at the same time as the C++ callers.
  auto r = python_call(s.port);
  CHECK(r.out == "{'x': 1, 'y': [2, 3]}\n");
}

TEST_CASE("funker: a caller that never half-closes is bounded by HOTWRAP_TIMEOUT_MS") {
  SUBCASE("the command waits for the rest of its stdin") {
    FunkerServer s({"cat"}, {{"HOTWRAP_TIMEOUT_MS", "500"}});
    auto t0 = Clock::now();
    auto a = tcp::call(s.port, "{\"x\":", 10000ms, false);
    auto took = std::chrono::duration_cast<Ms>(Clock::now() - t0);
    CHECK(!a.timed_out);
    CHECK(a.body.empty());
    CHECK(took < 3000ms);
    CHECK(s.srv->wait_stderr(": 504: the command did not finish in time: HOTWRAP_TIMEOUT_MS=",
                             2000ms));
  }
  SUBCASE("the command is done without reading: the answer waits for the half-close") {
    FunkerServer s({"echo", "1"}, {{"HOTWRAP_TIMEOUT_MS", "500"}});
    auto a = tcp::call(s.port, "{}", 10000ms, false);
    CHECK(!a.timed_out);
    CHECK(a.body.empty());
    CHECK(s.srv->wait_stderr("did not half-close its connection within HOTWRAP_TIMEOUT_MS=500",
                             2000ms));
    // A caller that does half-close gets the answer.
    CHECK(tcp::call(s.port, "{}").body == "1\n");
  }
}

TEST_CASE("funker: HOTWRAP_FUNKER_JSON=1 answers only one JSON value and logs why not") {
  FunkerServer s({"sh", "-c", "read -r x; printf '%s' \"$x\""}, {{"HOTWRAP_FUNKER_JSON", "1"}});
  CHECK(tcp::call(s.port, "{\"a\": [1, 2]}\n").body == "{\"a\": [1, 2]}");
  CHECK(tcp::call(s.port, "3\n").body == "3");
  auto bad = tcp::call(s.port, "{\"a\": oops}\n");
  CHECK(bad.eof);
  CHECK(bad.body.empty());
  CHECK(s.srv->wait_stderr("stdout is not one JSON value (invalid JSON at byte 6", 2000ms));
  CHECK(tcp::call(s.port, "1 2\n").body.empty());  // two values are not one
}

TEST_CASE("funker: past HOTWRAP_BUFFER_BYTES a later failure resets the connection") {
  FunkerServer s({"sh", "-c", "cat >/dev/null; head -c 100000 /dev/zero; exit 1"},
                 {{"HOTWRAP_BUFFER_BYTES", "1000"}});
  auto a = tcp::call(s.port, "{}");
  CHECK(a.reset);
  CHECK(!a.eof);
  CHECK(s.srv->wait_stderr("failed after its answer began streaming", 2000ms));
  // A large successful answer streams whole.
  FunkerServer ok({"sh", "-c", "cat >/dev/null; head -c 3000000 /dev/zero"},
                  {{"HOTWRAP_BUFFER_BYTES", "1000"}});
  auto b = tcp::call(ok.port, "{}");
  CHECK(b.eof);
  CHECK(b.body.size() == 3000000);
}

TEST_CASE("funker: a large request streams into the command") {
  FunkerServer s({"wc", "-c"});
  std::string big(5 << 20, 'x');
  auto a = tcp::call(s.port, big, 20000ms);
  CHECK(a.eof);
  CHECK(a.body == "5242880\n");
}

TEST_CASE("funker: HOTWRAP_FUNKER_ONESHOT=1 answers one call, then exits with its status") {
  SUBCASE("success") {
    FunkerServer s({"cat"}, {{"HOTWRAP_FUNKER_ONESHOT", "1"}});
    CHECK(tcp::call(s.port, "[1]").body == "[1]");
    auto st = s.srv->wait_exit(5000ms);
    CHECK(exit_code(st) == 0);
  }
  SUBCASE("failure") {
    FunkerServer s({"sh", "-c", "cat >/dev/null; exit 3"}, {{"HOTWRAP_FUNKER_ONESHOT", "1"}});
    auto a = tcp::call(s.port, "[1]");
    CHECK(a.eof);
    CHECK(a.body.empty());
    auto st = s.srv->wait_exit(5000ms);
    CHECK(exit_code(st) == 3);
  }
}

TEST_CASE("funker: SIGTERM lets the running call finish, then exits 0") {
  FunkerServer s({"sh", "-c", "cat >/dev/null; sleep 0.4; echo done"});
  FunkerAnswer a;
  std::thread t([&] { a = tcp::call(s.port, "{}"); });
  REQUIRE(wait_until([&] { return !s.srv->children().empty(); }, 5000ms));
  s.srv->signal(SIGTERM);
  t.join();
  CHECK(a.body == "done\n");
  CHECK(exit_code(s.srv->wait_exit(5000ms)) == 0);
}

TEST_CASE("funker: a caller that goes away mid-answer ends the call; hotwrap serves on") {
  FunkerServer s({"sh", "-c", "cat >/dev/null; exec head -c 50000000 /dev/zero"},
                 {{"HOTWRAP_BUFFER_BYTES", "1000"}});
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(s.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::shutdown(fd, SHUT_WR);
  char buf[65536];
  size_t got = 0;
  while (got < 200000) {
    pollfd p{fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 5000) == 1);
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  CHECK(s.srv->wait_stderr("(the caller hung up)", 5000ms));
  CHECK(wait_until([&] { return s.srv->children().empty(); }, 5000ms));
  CHECK(s.srv->zombies().empty());
  auto next = tcp::call(s.port, "x", 20000ms);  // the next caller gets a whole answer
  CHECK(next.eof);
  CHECK(next.body.size() == 50000000);
}
