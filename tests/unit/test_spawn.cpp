// Exit codes, executable lookup, and the outcome of a call.
#include <doctest/doctest.h>

#include <sys/prctl.h>
#include <sys/wait.h>

#include <cerrno>
#include <filesystem>
#include <iterator>
#include <string>

#include "hotwrap/runner.hpp"
#include "hotwrap/spawn.hpp"
#include "tests/support/timer_slack.hpp"

using namespace hotwrap;
using hotwrap::testing::timer_slack_of;

TEST_CASE("exit codes as a shell reports them") {
  struct Row {
    int wstatus;
    int code;
  };
  // W_EXITCODE / W_STOPCODE build wait statuses the way the kernel does.
  const Row rows[] = {{W_EXITCODE(0, 0), 0},         {W_EXITCODE(3, 0), 3},
                      {W_EXITCODE(255, 0), 255},     {W_EXITCODE(0, SIGKILL), 137},
                      {W_EXITCODE(0, SIGTERM), 143}, {W_EXITCODE(0, SIGSEGV), 139}};
  for (const Row& r : rows) {
    CAPTURE(r.wstatus);
    CHECK(exit_code_from_status(r.wstatus) == r.code);
  }
  CHECK(exit_code_for_spawn_error(ENOENT) == 127);
  CHECK(exit_code_for_spawn_error(EACCES) == 126);
  CHECK(exit_code_for_spawn_error(ENOEXEC) == 126);
}

TEST_CASE("outcomes") {
  CHECK(Outcome{Outcome::Kind::Exited, 0}.ok());
  CHECK_FALSE(Outcome{Outcome::Kind::Exited, 3}.ok());
  CHECK(Outcome{Outcome::Kind::Exited, 3}.describe() == "exited with status 3");
  CHECK(Outcome{Outcome::Kind::Signaled, 9}.exit_code() == 137);
  CHECK(Outcome{Outcome::Kind::Signaled, 9}.describe().starts_with("killed by signal 9"));
  CHECK(Outcome{Outcome::Kind::NotStarted, ENOENT}.exit_code() == 127);
  CHECK(Outcome{Outcome::Kind::TimedOut, 0}.exit_code() == 124);
  CHECK_FALSE(Outcome{Outcome::Kind::TimedOut, 0}.ok());
}

TEST_CASE("finding the command as posix_spawnp would") {
  CHECK(find_executable("sh", "/nonexistent:/bin:/usr/bin").has_value());
  CHECK(*find_executable("/bin/sh", nullptr) == "/bin/sh");
  auto missing = find_executable("no-such-command-xyz", "/bin:/usr/bin");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().err == ENOENT);
  auto not_exec = find_executable("/etc/passwd", nullptr);
  REQUIRE_FALSE(not_exec.has_value());
  CHECK(not_exec.error().err == EACCES);
  auto dir = find_executable("/tmp", nullptr);
  REQUIRE_FALSE(dir.has_value());
  CHECK(dir.error().err == EACCES);
}

TEST_CASE("a command that cannot be spawned: the error names the call, no descriptor stays open") {
  auto open_fds = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                         std::filesystem::directory_iterator{});
  };
  auto before = open_fds();
  char arg0[] = "no-such-command";
  char* argv[] = {arg0, nullptr};
  char* envp[] = {nullptr};
  // Every stream piped: three pipes to close again on the failure path.
  auto child = spawn_command("/nonexistent/no-such-command", argv, envp,
                             {.in = Stdio::Pipe, .out = Stdio::Pipe, .err = Stdio::Pipe});
  REQUIRE_FALSE(child.has_value());
  CHECK(std::string(child.error().call) == "posix_spawn");
  CHECK(child.error().err == ENOENT);
  CHECK(open_fds() == before);
}

TEST_CASE(
    "a spawner that does not wait for the exec: its group at once, the exec's error at exit") {
  Spawner spawner(Spawner::Mode::NoWait);
  char* envp[] = {const_cast<char*>("HOTWRAP_TEST=1"), nullptr};
  auto run = [&](const char* path, std::vector<const char*> args, StdioPlan plan) {
    std::vector<char*> argv;
    for (const char* a : args) argv.push_back(const_cast<char*>(a));
    argv.push_back(nullptr);
    return spawner.spawn(path, argv.data(), envp, plan);
  };
  auto reap = [&](pid_t pid) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    int err = spawner.exec_error(pid);
    spawner.reaped(pid);
    return std::pair{status, err};
  };
  SUBCASE("a command that runs: its own process group, its stdio, the environment given") {
    auto child = run("/bin/sh", {"sh", "-c", "echo \"$HOTWRAP_TEST\" $(cat)"},
                     StdioPlan{Stdio::Pipe, Stdio::Pipe, Stdio::Inherit});
    REQUIRE(child);
    // Set by hotwrap too, so a signal to the group reaches it even before it runs.
    CHECK(::getpgid(child->pid) == child->pid);
    REQUIRE(::write(child->in.get(), "in", 2) == 2);
    child->in.reset();
    auto [status, err] = reap(child->pid);
    CHECK(err == 0);
    CHECK(exit_code_from_status(status) == 0);
    char buf[64] = {};
    ssize_t n = ::read(child->out.get(), buf, sizeof buf - 1);
    CHECK(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) == "1 in\n");
  }
  SUBCASE("a file that cannot be run: the spawn succeeds, the exit carries the errno") {
    auto child = run("/nonexistent/no-such-command", {"x"}, StdioPlan{});
    REQUIRE(child);
    auto [status, err] = reap(child->pid);
    CHECK(err == ENOENT);
    CHECK(exit_code_from_status(status) == 127);
    // Once reaped, nothing is kept of it.
    CHECK(spawner.exec_error(child->pid) == 0);
  }
}

TEST_CASE("hotwrap's timers get a wide slack; every command the slack hotwrap was started with") {
  // Not the kernel's default (50 µs): the command must get this one back, not the default.
  const long before = timer_slack_of("self");
  const long inherited = 60'000;
  REQUIRE(::prctl(PR_SET_TIMERSLACK, inherited, 0, 0, 0) == 0);
  REQUIRE(widen_timer_slack());
  CHECK(timer_slack_of("self") == kTimerSlackNs);
  CHECK_FALSE(widen_timer_slack());  // once: what was inherited is kept
  auto child_slack = [](Spawner::Mode mode) {
    Spawner spawner(mode);
    char* argv[] = {const_cast<char*>("cat"), const_cast<char*>("/proc/self/timerslack_ns"),
                    nullptr};
    char* envp[] = {nullptr};
    auto child = spawner.spawn("/bin/cat", argv, envp, StdioPlan{Stdio::Pipe, Stdio::Pipe});
    REQUIRE(child);
    child->in.reset();
    int status = 0;
    REQUIRE(::waitpid(child->pid, &status, 0) == child->pid);
    spawner.reaped(child->pid);
    CHECK(exit_code_from_status(status) == 0);
    char buf[32] = {};
    ssize_t n = ::read(child->out.get(), buf, sizeof buf - 1);
    return n > 0 ? std::stol(std::string(buf, static_cast<size_t>(n))) : -1;
  };
  CHECK(child_slack(Spawner::Mode::NoWait) == inherited);
  CHECK(child_slack(Spawner::Mode::WaitForExec) == inherited);
  CHECK(timer_slack_of("self") ==
        kTimerSlackNs);  // posix_spawn's moment of the inherited one is over
  ::prctl(PR_SET_TIMERSLACK, before, 0, 0, 0);
}
