// Reaping, descriptor hygiene over many calls, and SIGTERM/SIGINT shutdown.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

using namespace e2e;

namespace {

bool path_exists(const std::string& p) {
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0;
}

void check_exit_0(Server& srv, Ms timeout) {
  auto st = srv.wait_exit(timeout);
  REQUIRE_MESSAGE(st.has_value(), "hotwrap still running "
                                      << timeout.count()
                                      << " ms after the signal; stderr: " << srv.stderr_text());
  INFO(describe_status(st) << "; stderr: " << srv.stderr_text());
  CHECK(exit_code(st) == 0);
}

void check_socket_files_gone(const Server& srv) {
  CHECK_FALSE(path_exists(srv.socket_path()));
  CHECK_FALSE(path_exists(srv.phony_path()));
}

}  // namespace

TEST_CASE("reaping: 300 mixed calls leave no zombies and no extra descriptors") {
  // n % 4: 0 → exit 0; 1 → exit 3; 2 → killed by SIGKILL; 3 → exit 0 leaving a background
  // child that holds stdout (hotwrap kills the group and reaps it as subreaper).
  Server srv({"sh", "-c",
              "read n; echo \"$n\"; case $((n % 4)) in 1) exit 3;; 2) kill -9 $$;; 3) sleep 5 & "
              "exit 0;; esac"});

  // Warm up once so that lazily opened descriptors are counted in the baseline.
  int idle = srv.fd_count();
  {
    Conn w = srv.connect();
    Response r = w.call({.body = "0\n"});
    REQUIRE(r.status == 200);
  }
  wait_until([&] { return srv.fd_count() <= idle; }, 2000ms);
  const int baseline = srv.fd_count();
  MESSAGE("hotwrap fds: " << idle << " at start, " << baseline << " after warm-up");
  CHECK(baseline == idle);

  std::vector<std::unique_ptr<Conn>> conns;
  int failures = 0;
  for (int n = 0; n < 300 && failures < 3; ++n) {
    // Three connections open at once, each replaced every 25 calls.
    if (n % 25 == 0) {
      if (conns.size() == 3) conns.erase(conns.begin());
      conns.push_back(std::make_unique<Conn>(srv.socket_path()));
    }
    Conn& c = *conns[static_cast<std::size_t>(n) % conns.size()];
    Response r = c.call({.body = std::to_string(n) + "\n"}, 10000ms);
    int expected = (n % 4 == 0 || n % 4 == 3) ? 200 : 502;
    if (r.status != expected || (expected == 200 && r.body != std::to_string(n) + "\n")) {
      ++failures;
      INFO(r);
      CAPTURE(n);
      CHECK(r.status == expected);
    }
  }
  CHECK(failures == 0);
  conns.clear();

  bool fds_back = wait_until([&] { return srv.fd_count() == baseline; }, 3000ms);
  INFO("fd count now " << srv.fd_count() << ", baseline " << baseline);
  CHECK(fds_back);
  bool no_zombies = wait_until([&] { return srv.zombies().empty(); }, 3000ms);
  INFO("zombies: " << srv.zombies().size());
  CHECK(no_zombies);
  bool no_children = wait_until([&] { return srv.descendants().empty(); }, 3000ms);
  INFO("processes left under hotwrap: " << srv.descendants().size());
  CHECK(no_children);
}

TEST_CASE("reaping: an orphaned grandchild that exits on its own is reaped") {
  // The background sleep outlives sh only briefly, with stdout closed so it does not hold
  // the reply: hotwrap may kill it or let it finish, but it must not stay a zombie.
  Server srv({"sh", "-c", "sleep 0.2 >/dev/null 2>&1 & echo $!"});
  Conn c = srv.connect();
  Response r = c.call({});
  INFO(r);
  REQUIRE(r.status == 200);
  pid_t orphan = static_cast<pid_t>(std::stol(r.body));
  bool reaped = wait_until([&] { return !proc_state(orphan).has_value(); }, 3000ms);
  INFO("orphan state: " << proc_state(orphan).value_or('-'));
  CHECK(reaped);
  CHECK(srv.zombies().empty());
}

TEST_CASE("shutdown: SIGTERM or SIGINT when idle exits 0 and removes both socket files") {
  int sig = SIGTERM;
  SUBCASE("SIGTERM") {
    sig = SIGTERM;
  }
  SUBCASE("SIGINT") {
    sig = SIGINT;
  }
  SUBCASE("SIGTERM with an idle kept-alive connection open") {
    sig = SIGTERM;
  }
  CAPTURE(sig);
  Server srv({"cat"});
  Conn c = srv.connect();
  Response r = c.call({.body = "x"});
  REQUIRE(r.status == 200);
  srv.signal(sig);
  check_exit_0(srv, 3000ms);
  check_socket_files_gone(srv);
}

TEST_CASE("shutdown: SIGTERM during a call lets it finish, then exits 0") {
  Server srv({"sh", "-c", "sleep 1; echo done"});
  Conn c = srv.connect();
  REQUIRE(c.send_request({}));
  wait_call_running(srv);
  srv.signal(SIGTERM);
  // New callers are turned away at once: the socket files go first.
  bool removed = wait_until([&] { return !path_exists(srv.socket_path()); }, 1000ms);
  CHECK(removed);
  CHECK(try_connect(srv.socket_path()) != 0);
  Response r = c.read_response(5000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "done\n");
  check_exit_0(srv, 5000ms);
  check_socket_files_gone(srv);
}

TEST_CASE(
    "shutdown: a call outliving the grace gets SIGTERM within it, SIGKILL at its end, a 503") {
  // docker stop -t 10 with HOTWRAP_SHUTDOWN_GRACE_MS=2000: the command's trap runs before the
  // grace is over, the caller learns why, and the log does not blame the caller.
  Server srv({"sh", "-c", "trap 'echo got-term >&2' TERM; while :; do sleep 0.05; done"},
             {{"HOTWRAP_SHUTDOWN_GRACE_MS", "2000"}, {"HOTWRAP_KILL_GRACE_MS", "500"}});
  Conn c = srv.connect();
  REQUIRE(c.send_request({}));
  wait_call_running(srv);
  auto t0 = Clock::now();
  srv.signal(SIGTERM);
  REQUIRE(srv.wait_stderr("got-term", 3000ms));
  auto term_after = std::chrono::duration_cast<Ms>(Clock::now() - t0);
  Response r = c.read_response(5000ms);
  INFO(r);
  auto answered_after = std::chrono::duration_cast<Ms>(Clock::now() - t0);
  MESSAGE("SIGTERM to the command " << term_after.count() << " ms and the answer "
                                    << answered_after.count()
                                    << " ms after hotwrap's (expected about 1500 and 2000)");
  CHECK(term_after >= 1200ms);
  CHECK(term_after < 2000ms);
  CHECK(r.status == 503);
  CHECK(r.body.starts_with(
      "hotwrap: the command was stopped: hotwrap is shutting down\nthe end of its stderr:\n"));
  CHECK(r.body.ends_with("got-term\n"));  // its trap's line: the reason, in the answer
  check_exit_0(srv, 5000ms);
  CHECK(srv.stderr_text().find("caller gone") == std::string::npos);
  CHECK(srv.wait_stderr("shutting down: SIGTERM to the command", 3000ms));
}

TEST_CASE("shutdown: a call outliving HOTWRAP_SHUTDOWN_GRACE_MS is killed, then exit 0") {
  Server srv({"sh", "-c", "sleep 60 & sleep 60"}, {{"HOTWRAP_SHUTDOWN_GRACE_MS", "300"}});
  Conn c = srv.connect();
  REQUIRE(c.send_request({}));
  wait_call_running(srv);
  wait_until([&] { return srv.descendants().size() >= 3; }, 3000ms);
  auto tree = srv.descendants();
  auto t0 = Clock::now();
  srv.signal(SIGTERM);
  check_exit_0(srv, 5000ms);
  auto took = std::chrono::duration_cast<Ms>(Clock::now() - t0);
  MESSAGE("exit " << took.count() << " ms after SIGTERM (grace 300 ms)");
  CHECK(took < 3000ms);
  bool gone = all_gone(tree, 3000ms);
  CHECK(gone);
  check_socket_files_gone(srv);
}

TEST_CASE("pid 1: as init of a PID namespace, hotwrap reaps orphans and stops on SIGTERM") {
  // `docker run` without --init makes the ENTRYPOINT PID 1: orphans are re-parented to it, and
  // the kernel drops signals PID 1 has no handler for (hotwrap reads them from a signalfd).
  if (std::system("unshare --pid --fork true >/dev/null 2>&1") != 0) {
    skip_test("`unshare --pid --fork` fails here (needs root or user namespaces)");
    return;
  }
  Server::Options o;
  o.wrapper = {"unshare", "--pid", "--fork", "--"};
  o.argv = {"sh", "-c",
            "read m; case $m in ppid) echo $PPID;; orphan) (sleep 0.1 >/dev/null 2>&1 &); echo "
            "ok;; esac"};
  Server srv(std::move(o));
  auto kids = proc_children(srv.pid());
  REQUIRE(kids.size() == 1);
  const pid_t hotwrap = kids.front();  // as seen from here; PID 1 inside the namespace

  Conn c = srv.connect();
  Response r = c.call({.body = "ppid\n"});
  INFO(r);
  REQUIRE(r.status == 200);
  CHECK(r.body == "1\n");  // hotwrap really is PID 1 for its commands

  for (int i = 0; i < 20; ++i) {
    Response ro = c.call({.body = "orphan\n"});
    INFO(ro);
    REQUIRE(ro.status == 200);
    CHECK(ro.body == "ok\n");
  }
  // Orphans (the backgrounded sleeps) end up as hotwrap's children and must be reaped.
  bool clean = wait_until([&] { return proc_children(hotwrap).empty(); }, 3000ms);
  INFO("processes left under hotwrap: " << proc_descendants(hotwrap).size());
  CHECK(clean);

  REQUIRE(::kill(hotwrap, SIGTERM) == 0);
  check_exit_0(srv, 3000ms);  // unshare --fork exits with hotwrap's status
  check_socket_files_gone(srv);
}

TEST_CASE("signals: HUP, QUIT, USR1 and USR2 to hotwrap reach the running call's command") {
  for (auto [sig, name] : {std::pair{SIGHUP, "HUP"}, std::pair{SIGQUIT, "QUIT"},
                           std::pair{SIGUSR1, "USR1"}, std::pair{SIGUSR2, "USR2"}}) {
    CAPTURE(name);
    std::string script = std::string("trap 'echo got-") + name + "; exit 0' " + name +
                         "; echo ready >&2; while :; do sleep 0.02; done";
    Server srv({"sh", "-c", script});
    Conn c = srv.connect();
    REQUIRE(c.send_request({.body = "x"}));
    REQUIRE(srv.wait_stderr("ready\n", 5000ms));  // the trap is set
    srv.signal(sig);
    Response r = c.read_response(5000ms);
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == std::string("got-") + name + "\n");
    CHECK_FALSE(srv.exited());  // the signal was the command's, not hotwrap's
  }
}
