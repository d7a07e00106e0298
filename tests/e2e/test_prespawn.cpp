// Prespawn (HOTWRAP_PRESPAWN=1): one process of the command waits for its call. It must never
// make a call fail that would succeed without it, and never leave a process behind.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <string>

using namespace e2e;

namespace {

const EnvList kPrespawn{{"HOTWRAP_PRESPAWN", "1"}};

// Prints its own pid, whether the call's id was in its environment, then the call's id and
// whether it has a deadline, from FN_CALL_ENV_FILE, and that file's mode.
const std::string kReport =
    "cat >/dev/null; echo \"$$\"; echo \"env:${FN_CALL_ID:-none}\"; . \"$FN_CALL_ENV_FILE\"; "
    "echo \"$FN_CALL_ID ${FN_DEADLINE:+deadline}\"; stat -c %a \"$FN_CALL_ENV_FILE\"";

// One call to kReport: its four lines.
std::vector<std::string> report(Conn& c, const Request& req) {
  Response r = c.call(req);
  INFO(r);
  REQUIRE(r.status == 200);
  auto lines = split_lines(r.body);
  REQUIRE(lines.size() == 4);
  return lines;
}

// The one process waiting under hotwrap (bounded wait); -1 when there is none, or more than one.
pid_t waiting_process(const Server& srv, pid_t not_this = -1) {
  pid_t found = -1;
  wait_until(
      [&] {
        auto kids = srv.children();
        found = kids.size() == 1 && kids[0] != not_this ? kids[0] : -1;
        return found > 0;
      },
      5000ms);
  return found;
}

void check_gone(const std::vector<pid_t>& pids, Ms timeout = 3000ms) {
  bool gone = wait_until(
      [&] { return std::none_of(pids.begin(), pids.end(), [](pid_t p) { return proc_alive(p); }); },
      timeout);
  CHECK(gone);
}

// hotwrap's descriptor count once it holds still: a process just started ahead shows up under
// hotwrap a moment before hotwrap closes the process's ends of its pipes.
int settled_fd_count(const Server& srv) {
  int last = -1;
  int same = 0;
  wait_until(
      [&] {
        int now = srv.fd_count();
        same = now == last ? same + 1 : 0;
        last = now;
        return same >= 3;
      },
      2000ms);
  return last;
}

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

// Every process of the command appends its pid to <dir>/pids as it starts: the ones hotwrap started
// ahead included, which no call ever names.
std::vector<std::string> logging_pids(const TempDir& dir, const std::string& rest) {
  return {"sh", "-c", "echo $$ >>" + dir.path() + "/pids; " + rest};
}

std::vector<pid_t> logged_pids(const TempDir& dir) {
  std::vector<pid_t> pids;
  FILE* f = std::fopen((dir.path() + "/pids").c_str(), "r");
  if (f == nullptr) return pids;
  int pid = 0;
  while (std::fscanf(f, "%d", &pid) == 1) pids.push_back(pid);
  std::fclose(f);
  return pids;
}

}  // namespace

TEST_CASE("prespawn: each call takes the process that was waiting for it") {
  Server srv({"sh", "-c", kReport}, kPrespawn);
  Conn c = srv.connect();
  pid_t prev = -1;
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    pid_t waiting = waiting_process(srv, prev);
    REQUIRE(waiting > 0);
    Request req{.body = "x"};
    auto lines = report(c, req);
    CHECK(lines[0] == std::to_string(waiting));
    CHECK(lines[1] == "env:none");  // started before its call: not in its environment
    CHECK(lines[2] == req.call_id() + " deadline");
    CHECK(lines[3] == "600");
    prev = waiting;
  }
  CHECK(srv.stderr_text().find("hotwrap: ") == std::string::npos);  // nothing to report
}

TEST_CASE("prespawn: the call's file is removed when the call ends") {
  Server srv({"sh", "-c", "cat >/dev/null; echo \"$FN_CALL_ENV_FILE\""}, kPrespawn);
  Conn c = srv.connect();
  REQUIRE(waiting_process(srv) > 0);
  Response r = c.call({});
  INFO(r);
  REQUIRE(r.status == 200);
  std::string path = split_lines(r.body).at(0);
  CHECK(path.find("/hotwrap-") != std::string::npos);
  CHECK(path.ends_with(".env"));
  CHECK_FALSE(file_exists(path));
}

TEST_CASE("prespawn: a waiting process that died is replaced; the call succeeds") {
  Server srv({"sh", "-c", kReport}, kPrespawn);
  Conn c = srv.connect();
  pid_t waiting = waiting_process(srv);
  REQUIRE(waiting > 0);
  REQUIRE(::kill(waiting, SIGKILL) == 0);
  REQUIRE(srv.wait_stderr("exited before its call (status 137)", 3000ms));
  Request req{.body = "x"};
  auto lines = report(c, req);
  CHECK(lines[0] != std::to_string(waiting));
  // Started for the call: its variables are in its environment, and in the file as well.
  CHECK(lines[1] == "env:" + req.call_id());
  CHECK(lines[2] == req.call_id() + " deadline");
  // And prespawning goes on after it.
  CHECK(waiting_process(srv) > 0);
}

TEST_CASE("prespawn: a command that exits without reading stdin answers every call, no spin") {
  TempDir dir;
  // At debug level each call's last log line names it.
  Server srv(logging_pids(dir, "echo hi"),
             {{"HOTWRAP_PRESPAWN", "1"}, {"HOTWRAP_LOG_LEVEL", "debug"}});
  Conn c = srv.connect();
  Request req;
  for (int i = 0; i < 5; ++i) {
    req = {.body = "x"};
    Response r = c.call(req);
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == "hi\n");
  }
  // The process waiting when the last call ended (or started after it) exits at once, and hotwrap
  // says so after the call's last line: from then on it is idle.
  bool idle = wait_until(
      [&] {
        std::string err = srv.stderr_text();
        size_t last_call = err.rfind(req.call_id());
        return last_call != std::string::npos &&
               err.find("exited before its call", last_call) != std::string::npos;
      },
      5000ms);
  INFO("stderr: " << printable(srv.stderr_text(), 4000));
  REQUIRE(idle);
  // At most two processes a call (the one that had exited, and its replacement) plus the first.
  size_t started = logged_pids(dir).size();
  CHECK(started <= 11);
  // None while idle: a spinning hotwrap would start the next one at once.
  CHECK_FALSE(wait_until([&] { return logged_pids(dir).size() != started; }, 500ms));
}

TEST_CASE(
    "prespawn: without a writable TMPDIR the call runs with its variables in the environment") {
  Server srv({"sh", "-c", "cat >/dev/null; echo \"${FN_CALL_ID:-none}\""},
             {{"HOTWRAP_PRESPAWN", "1"}, {"TMPDIR", "/nonexistent-hotwrap-dir"}});
  Conn c = srv.connect();
  REQUIRE(waiting_process(srv) > 0);
  for (int i = 0; i < 2; ++i) {
    Request req;
    Response r = c.call(req);
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == req.call_id() + "\n");
  }
  CHECK(srv.wait_stderr("could not be given its call's environment", 3000ms));
}

TEST_CASE("prespawn: SIGTERM when idle ends the waiting process and exits 0") {
  TempDir dir;
  Server srv(logging_pids(dir, "cat"), kPrespawn);
  REQUIRE(waiting_process(srv) > 0);
  // It has started its script (a SIGTERM before that would leave no pid to check).
  REQUIRE(wait_until([&] { return logged_pids(dir).size() == 1; }, 3000ms));
  srv.signal(SIGTERM);
  auto st = srv.wait_exit(3000ms);
  REQUIRE(st.has_value());
  CHECK(exit_code(st) == 0);
  auto pids = logged_pids(dir);
  CHECK(pids.size() == 1);
  check_gone(pids);
}

TEST_CASE("prespawn: SIGTERM during a call lets it finish; no process is left") {
  TempDir dir;
  Server srv(logging_pids(dir, "cat >/dev/null; echo running >&2; sleep 0.5; echo done"),
             kPrespawn);
  Conn c = srv.connect();
  REQUIRE(waiting_process(srv) > 0);
  REQUIRE(c.send_request({.body = "x"}));
  REQUIRE(srv.wait_stderr("running", 5000ms));
  srv.signal(SIGTERM);
  Response r = c.read_response(5000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "done\n");
  auto st = srv.wait_exit(5000ms);
  REQUIRE(st.has_value());
  CHECK(exit_code(st) == 0);
  // Whatever was started — the call's process, and any started after it — is gone.
  auto pids = logged_pids(dir);
  CHECK(!pids.empty());
  check_gone(pids);
}

TEST_CASE("prespawn: the deadline kills the call's group; the next call gets a new process") {
  Server srv({"sh", "-c", "read m; if [ \"$m\" = slow ]; then sleep 60 & sleep 60; fi; echo ok"},
             kPrespawn);
  Conn c = srv.connect();
  pid_t first = waiting_process(srv);
  REQUIRE(first > 0);
  Deadline dl = deadline_in(1500ms);
  REQUIRE(c.send_request({.headers = {{"Fn-Deadline", dl.header}}, .body = "slow\n"}));
  REQUIRE(wait_until([&] { return proc_children(first).size() >= 2; }, 5000ms));
  std::vector<pid_t> tree = proc_descendants(first);
  tree.push_back(first);
  Response r = c.read_response(10000ms);
  INFO(r);
  CHECK(r.status == 504);
  check_gone(tree);
  pid_t next = waiting_process(srv, first);
  REQUIRE(next > 0);
  Response ok = c.call({.body = "fast\n"});
  INFO(ok);
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok\n");
}

TEST_CASE("prespawn: the caller closing mid-call kills the call's processes") {
  Server srv({"sh", "-c", "read m; if [ \"$m\" = slow ]; then sleep 60 & sleep 60; fi; echo ok"},
             kPrespawn);
  pid_t first = waiting_process(srv);
  REQUIRE(first > 0);
  {
    Conn c = srv.connect();
    REQUIRE(c.send_request({.body = "slow\n"}));
    REQUIRE(wait_until([&] { return proc_children(first).size() >= 2; }, 5000ms));
    std::vector<pid_t> tree = proc_descendants(first);
    tree.push_back(first);
    c.close();
    check_gone(tree);
  }
  Conn c2 = srv.connect();
  Response r = c2.call({.body = "fast\n"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
}

TEST_CASE("prespawn: 100 calls leave one waiting process, no zombies, no extra descriptors") {
  Server srv({"cat"}, kPrespawn);
  Conn c = srv.connect();
  REQUIRE(waiting_process(srv) > 0);
  REQUIRE(c.call({.body = "warm"}).status == 200);
  REQUIRE(waiting_process(srv) > 0);
  int fds = settled_fd_count(srv);
  for (int i = 0; i < 100; ++i) {
    std::string body = "call " + std::to_string(i);
    Response r = c.call({.body = body});
    REQUIRE(r.status == 200);
    REQUIRE(r.body == body);
  }
  CHECK(waiting_process(srv) > 0);
  CHECK(srv.zombies().empty());
  CHECK(settled_fd_count(srv) == fds);
}
