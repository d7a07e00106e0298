// The default (cold) format: one run of the command on hotwrap's own stdio, its exit code,
// FN_DEADLINE, and signals passed on as an init passes them.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "stdio_harness.hpp"

using namespace stdio_e2e;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("default: `echo hi | hotwrap rev` behaves like rev, without FN_FORMAT or with default") {
  for (bool named : {false, true}) {
    CAPTURE(named);
    Options o{.argv = {"rev"}};
    if (named) o.env = {{"FN_FORMAT", "default"}};
    Proc p(o);
    REQUIRE(p.write("hi\nthere\n"));
    p.close_stdin();
    check_exit(p, 0);
    CHECK(p.out() == "ih\nereht\n");
    CHECK(p.err().empty());  // nothing of hotwrap's own on a normal run
  }
}

TEST_CASE("default: the command's stdin and stdout are hotwrap's own; stderr too without prefix") {
  // Not a byte of stdin or stdout passes through hotwrap: the command holds the very pipes
  // hotwrap was given. Its stderr does, line by line with the call id, unless
  // HOTWRAP_STDERR_PREFIX=0.
  {
    Proc p({.argv = {"sh", "-c", "readlink /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2"}});
    std::string in = p.pipe_name(0);
    std::string own = p.pipe_name(2);
    p.close_stdin();
    check_exit(p, 0);
    auto got = lines(p.out());
    REQUIRE(got.size() == 3);
    CHECK(got[0] == in);
    CHECK(got[2] != own);
  }
  Proc p({.argv = {"sh", "-c", "cat; readlink /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2"},
          .env = {{"HOTWRAP_STDERR_PREFIX", "0"}}});
  std::vector<std::string> pipes = {p.pipe_name(0), p.pipe_name(1), p.pipe_name(2)};
  REQUIRE(p.write("body\n"));
  p.close_stdin();
  check_exit(p, 0);
  std::vector<std::string> expected = {"body"};
  expected.insert(expected.end(), pipes.begin(), pipes.end());
  INFO("stdout: " << printable(p.out()));
  CHECK(lines(p.out()) == expected);
}

TEST_CASE("default: the environment passes through untouched") {
  const std::vector<std::pair<std::string, std::string>> agent = {
      {"FN_FORMAT", "default"},
      {"FN_CALL_ID", "01CALL"},
      {"FN_DEADLINE", deadline_in(60000ms)},
      {"FN_METHOD", "POST"},
      {"FN_REQUEST_URL", "http://localhost:8080/r/app/fn?x=1"},
      {"FN_HEADER_Content-Type", "text/plain"},
      {"FN_HEADER_X-My-Header", "a, b"},
      {"FN_APP_NAME", "app"},
  };
  Proc p({.argv = {"env"}, .env = agent});
  p.close_stdin();
  check_exit(p, 0);
  std::set<std::string> fn_vars;
  for (const std::string& l : lines(p.out())) {
    if (l.starts_with("FN_")) fn_vars.insert(l);
  }
  std::set<std::string> expected;
  for (const auto& [n, v] : agent) expected.insert(n + "=" + v);
  CHECK(fn_vars == expected);  // no name added (no FN_CONTENT_TYPE), none changed
}

TEST_CASE("default: hotwrap exits with the command's exit code") {
  struct Case {
    std::vector<std::string> argv;
    int code;
  };
  const std::vector<Case> cases = {
      {{"true"}, 0},
      {{"sh", "-c", "exit 3"}, 3},
      {{"sh", "-c", "exit 255"}, 255},
      {{"sh", "-c", "kill -TERM $$"}, 128 + SIGTERM},
      {{"sh", "-c", "kill -KILL $$"}, 128 + SIGKILL},
  };
  for (const Case& c : cases) {
    CAPTURE(c.argv.back());
    Proc p({.argv = c.argv});
    p.close_stdin();
    check_exit(p, c.code);
  }
}

TEST_CASE("default: a command that cannot run is 127 or 126, with one line") {
  std::string dir = "/tmp/hwstdio." + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0700);
  struct Case {
    std::string name;
    std::string content;  // empty: do not create
    unsigned mode;
    int code;
  };
  const std::vector<Case> cases = {
      {"missing", "", 0, 127},
      {"not-executable", "#!/bin/sh\necho hi\n", 0644, 126},
      // Passes the start-up check (it exists and is executable); exec fails when the call runs.
      {"bad-interpreter", "#!/nonexistent/interpreter\n", 0755, 127},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    std::string path = dir + "/" + c.name;
    if (!c.content.empty()) {
      FILE* f = std::fopen(path.c_str(), "w");
      REQUIRE(f != nullptr);
      std::fputs(c.content.c_str(), f);
      std::fclose(f);
      ::chmod(path.c_str(), c.mode);
    }
    Proc p({.argv = {path}});
    p.close_stdin();
    check_exit(p, c.code);
    CHECK(p.out().empty());
    CHECK(lines(p.err()).size() == 1);
    CHECK(p.err().find(c.name) != std::string::npos);
    std::remove(path.c_str());
  }
  ::rmdir(dir.c_str());
}

TEST_CASE("default: FN_DEADLINE: SIGTERM to the group a grace before it, SIGKILL at it, exit 124") {
  SUBCASE("a command that ends on SIGTERM") {
    auto start = Clock::now();
    Proc p({.argv = {"sh", "-c",
                     "trap 'echo got-TERM; exit 0' TERM; sleep 30 & echo started; "
                     "while :; do sleep 0.02; done"},
            .env = {{"FN_DEADLINE", deadline_in(1500ms)},
                    {"FN_CALL_ID", "c-dl"},
                    {"HOTWRAP_KILL_GRACE_MS", "500"}}});
    REQUIRE(p.wait_out("started\n", 5000ms));
    std::vector<pid_t> tree = p.descendants();
    REQUIRE_FALSE(tree.empty());
    check_exit(p, 124, 5000ms);
    auto took = std::chrono::duration_cast<Ms>(Clock::now() - start);
    CHECK(p.out().find("got-TERM") != std::string::npos);
    // No margin in this format: SIGTERM comes kill-grace (500 ms) before the deadline, not
    // earlier.
    CHECK(took >= 900ms);
    CHECK(took < 3000ms);
    // One line says why hotwrap exits 124, naming the call and the deadline.
    std::string err = p.err();
    INFO("stderr: " << printable(err));
    CHECK(err.find("hotwrap: error: call c-dl: the command did not finish by FN_DEADLINE") !=
          std::string::npos);
    // The background sleep was in the command's group: it is gone too.
    for (pid_t pid : tree) {
      CAPTURE(pid);
      CHECK(p.wait_for([&] { return !alive(pid); }, 3000ms));
    }
  }
  SUBCASE("a command that ignores SIGTERM is killed at the deadline") {
    auto start = Clock::now();
    Proc p({.argv = {"sh", "-c", "trap '' TERM; echo started; while :; do sleep 0.02; done"},
            .env = {{"FN_DEADLINE", deadline_in(1200ms)}}});
    REQUIRE(p.wait_out("started\n", 5000ms));
    check_exit(p, 124, 5000ms);
    auto took = std::chrono::duration_cast<Ms>(Clock::now() - start);
    CHECK(took >= 1100ms);
    CHECK(took < 3000ms);
  }
  SUBCASE("a deadline already past: the command never runs") {
    Proc p({.argv = {"sh", "-c", "echo ran"}, .env = {{"FN_DEADLINE", deadline_in(-1000ms)}}});
    p.close_stdin();
    check_exit(p, 124);
    CHECK(p.out().empty());
  }
  SUBCASE("an invalid FN_DEADLINE is ignored with a warning") {
    Proc p({.argv = {"sh", "-c", "echo ran"}, .env = {{"FN_DEADLINE", "tomorrow"}}});
    p.close_stdin();
    check_exit(p, 0);
    CHECK(p.out() == "ran\n");
    CHECK(p.err().find("ignoring FN_DEADLINE") != std::string::npos);
  }
}

TEST_CASE("default: signals to hotwrap reach the command, as an init passes them on") {
  const std::vector<std::pair<int, const char*>> sigs = {
      {SIGTERM, "TERM"}, {SIGINT, "INT"},   {SIGHUP, "HUP"},
      {SIGQUIT, "QUIT"}, {SIGUSR1, "USR1"}, {SIGUSR2, "USR2"},
  };
  for (const auto& [sig, name] : sigs) {
    CAPTURE(name);
    std::string script = std::string("trap 'echo got-") + name + "; exit 7' " + name +
                         "; echo ready; while :; do sleep 0.02; done";
    Proc p({.argv = {"sh", "-c", script}});
    REQUIRE(p.wait_out("ready\n", 5000ms));
    p.signal(sig);
    check_exit(p, 7, 5000ms);
    CHECK(p.out() == std::string("ready\ngot-") + name + "\n");
  }
  SUBCASE("a signal the command does not handle ends it, and hotwrap reports it as 128+N") {
    Proc p({.argv = {"sh", "-c", "echo ready; exec sleep 30"}});
    REQUIRE(p.wait_out("ready\n", 5000ms));
    p.signal(SIGTERM);
    check_exit(p, 128 + SIGTERM, 5000ms);
  }
}

TEST_CASE("default: on a terminal (docker run -it) the command is its foreground job") {
  // In its own process group the command would be a background job on hotwrap's terminal: its
  // first read would stop it (SIGTTIN) and the run would hang.
  Proc p({.argv = {"sh", "-c", "read line; echo \"got:$line\""}, .in = Options::Stdin::Terminal});
  REQUIRE(p.terminal_write("hello\n"));
  CHECK(p.wait_out("got:hello\n", 5000ms));
  check_exit(p, 0, 5000ms);
}
