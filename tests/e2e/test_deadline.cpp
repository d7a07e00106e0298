// Deadlines, process-tree cleanup after the command exits, and caller disconnects.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <string>

using namespace e2e;

namespace {

// Waits (bounded) until hotwrap has no processes under it and the given pids are dead.
void check_tree_gone(const Server& srv, const std::vector<pid_t>& pids, Ms timeout = 3000ms) {
  bool gone = wait_until(
      [&] {
        if (!srv.descendants().empty()) return false;
        for (pid_t p : pids) {
          if (proc_alive(p)) return false;
        }
        return true;
      },
      timeout);
  INFO("left under hotwrap: " << srv.descendants().size());
  CHECK(gone);
}

}  // namespace

TEST_CASE("deadline: 504 arrives before Fn-Deadline and the command is killed") {
  std::vector<std::string> cmd;
  int offset = 0;
  SUBCASE("sleep 60") {
    cmd = {"sleep", "60"};
  }
  SUBCASE("a command that ignores SIGTERM") {
    cmd = {"sh", "-c", "trap '' TERM; sleep 60"};
  }
  SUBCASE("a process tree (sh with a child)") {
    cmd = {"sh", "-c", "sleep 60; echo never"};
  }
  bool trigger = false;
  SUBCASE("deadline with a +01:00 offset") {
    cmd = {"sleep", "60"};
    offset = 60;
  }
  SUBCASE("a trigger call (504, not 200 with Fn-Http-Status)") {
    cmd = {"sleep", "60"};
    trigger = true;
  }
  CAPTURE(cmd.back());
  CAPTURE(trigger);
  Server srv(cmd);
  Conn c = srv.connect();
  Deadline d = deadline_in(2000ms, offset);
  Request req{.headers = {{"Fn-Deadline", d.header}}};
  if (trigger) req.headers.emplace_back("Fn-Intent", "httprequest");
  REQUIRE(c.send_request(req));
  auto tree = wait_call_running(srv);
  Response r = c.read_response(10000ms);
  INFO(r);
  INFO("deadline " << d.header);
  CHECK(r.status == 504);
  CHECK(r.complete);
  CHECK(r.completed_at < d.at);
  MESSAGE("504 arrived " << std::chrono::duration_cast<Ms>(d.at - r.completed_at).count()
                         << " ms before the deadline");
  check_tree_gone(srv, tree);
}

TEST_CASE("deadline: already past is an immediate 504") {
  Server srv({"sleep", "60"});
  Conn c = srv.connect();
  auto t0 = Clock::now();
  Response r = c.call({.headers = {{"Fn-Deadline", rfc3339(WallClock::now() - 10s)}}});
  INFO(r);
  CHECK(r.status == 504);
  CHECK(r.body ==
        "hotwrap: the command was not run: the deadline had passed when the call arrived\n");
  CHECK(Clock::now() - t0 < 1000ms);
  CHECK(srv.wait_stderr("when the call arrived; not running the command", 1000ms));
  check_tree_gone(srv, {});
}

TEST_CASE("deadline: bytes of a timed-out call never leak into the next call") {
  Server srv({"sh", "-c",
              "read m; if [ \"$m\" = slow ]; then echo partial; sleep 60; fi; echo \"quick $m\""});
  Conn c = srv.connect();
  Response r =
      c.call({.headers = {{"Fn-Deadline", deadline_in(2000ms).header}}, .body = "slow\n"}, 10000ms);
  INFO(r);
  CHECK(r.status == 504);
  Response r2 = c.call({.body = "fast\n"});
  INFO(r2);
  CHECK(r2.status == 200);
  CHECK(r2.body == "quick fast\n");
}

TEST_CASE("deadline: a grandchild holding stdout does not delay the reply and is killed") {
  Server srv({"sh", "-c", "sleep 30 & echo fast $!"});
  Conn c = srv.connect();
  auto t0 = Clock::now();
  Response r = c.call({}, 10000ms);
  auto took = std::chrono::duration_cast<Ms>(Clock::now() - t0);
  INFO(r);
  CHECK(r.status == 200);
  REQUIRE(r.body.starts_with("fast "));
  MESSAGE("reply after " << took.count() << " ms");
  CHECK(took < 2000ms);
  pid_t grandchild = static_cast<pid_t>(std::stol(r.body.substr(5)));
  check_tree_gone(srv, {grandchild});
}

TEST_CASE("disconnect: the caller closing mid-call kills the call's processes") {
  Server srv({"sh", "-c", "read m; if [ \"$m\" = slow ]; then sleep 60 & sleep 60; fi; echo ok"});
  {
    Conn c = srv.connect();
    REQUIRE(c.send_request({.body = "slow\n"}));
    auto tree = wait_call_running(srv);
    // Both sleeps started: the call's whole tree is up.
    wait_until([&] { return srv.descendants().size() >= 3; }, 3000ms);
    tree = srv.descendants();
    c.close();
    check_tree_gone(srv, tree);
  }
  // And the server serves the next caller.
  Conn c2 = srv.connect();
  Response r = c2.call({.body = "fast\n"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
}

TEST_CASE(
    "disconnect: a caller hanging up mid-body, with the command not reading, kills the call") {
  // hotwrap stops reading a body the command does not take (backpressure); the caller hanging up
  // must still be seen while it does not read.
  Server srv({"sleep", "300"});
  {
    Conn c = srv.connect();
    const std::size_t body = 8u << 20;
    std::string head = "POST /call HTTP/1.1\r\nHost: localhost\r\nFn-Call-Id: " + next_call_id() +
                       "\r\nContent-Length: " + std::to_string(body) + "\r\n\r\n";
    REQUIRE(c.send_raw(head));
    auto tree = wait_call_running(srv);
    // Send until hotwrap stops taking bytes: the socket buffers and the pipe are full.
    std::string chunk(64u << 10, 'x');
    std::size_t sent = 0;
    while (sent < body && c.send_raw(chunk, 500ms)) sent += chunk.size();
    REQUIRE_MESSAGE(sent < body, "hotwrap took the whole body although the command reads none");
    MESSAGE("hotwrap stopped reading after about " << sent << " bytes of " << body);
    c.close();
    check_tree_gone(srv, tree, 1000ms);
    CHECK(srv.wait_stderr("caller hung up mid-call", 1000ms));
  }
  Conn c2 = srv.connect();
  REQUIRE(c2.send_request({.body = "x"}));
  wait_call_running(srv);
}

TEST_CASE(
    "deadline: the 504 and SIGTERM at deadline - HOTWRAP_DEADLINE_MARGIN_MS, SIGKILL a grace "
    "later") {
  // The command logs the TERM, then keeps running: only the KILL ends it.
  Server srv({"sh", "-c", "trap 'echo got-term >&2' TERM; while :; do sleep 0.05; done"},
             {{"HOTWRAP_DEADLINE_MARGIN_MS", "1000"}, {"HOTWRAP_KILL_GRACE_MS", "600"}});
  Conn c = srv.connect();
  Deadline d = deadline_in(3000ms);
  REQUIRE(c.send_request({.headers = {{"Fn-Deadline", d.header}}}));
  auto tree = wait_call_running(srv);
  Response r = c.read_response(10000ms);
  INFO(r);
  REQUIRE(srv.wait_stderr("got-term", 2000ms));
  auto term_seen = WallClock::now();
  bool gone = all_gone(tree, 3000ms);
  auto gone_at = WallClock::now();
  auto before = [&d](WallClock::time_point t) {
    return std::chrono::duration_cast<Ms>(d.at - t).count();
  };
  MESSAGE("504 " << before(r.completed_at) << " ms before the deadline, TERM seen "
                 << before(term_seen) << " ms before, the group gone " << before(gone_at)
                 << " ms before (expected about 1000, 1000 and 400)");
  CHECK(r.status == 504);
  // The command had its time up to deadline - 1000 ms: no signal before the answer.
  CHECK(before(r.completed_at) >= 700);
  CHECK(before(r.completed_at) <= 1200);
  CHECK(gone);
  // SIGKILL came the kill grace (600 ms) after the answer, not with it.
  CHECK(gone_at - r.completed_at >= 400ms);
  CHECK(gone_at - r.completed_at <= 2000ms);
}

TEST_CASE("deadline: the command gets its whole time; the grace is not taken from it") {
  // Fn-Deadline 3.0 s ahead, the default margin (200 ms) and kill grace (500 ms): a command that
  // needs 2.6 s finishes (it would have been signalled at 2.3 s before); one that needs 4 s is
  // answered 504 before the deadline and none of it is left a grace later.
  Server srv({"sh", "-c", "read t; sleep $t & wait; echo slept $t"});
  Conn c = srv.connect();
  Response ok =
      c.call({.headers = {{"Fn-Deadline", deadline_in(3000ms).header}}, .body = "2.6\n"}, 10000ms);
  INFO(ok);
  CHECK(ok.status == 200);
  CHECK(ok.body == "slept 2.6\n");
  Deadline d = deadline_in(3000ms);
  REQUIRE(c.send_request({.headers = {{"Fn-Deadline", d.header}}, .body = "4\n"}));
  auto tree = wait_call_running(srv);
  wait_until([&] { return srv.descendants().size() >= 2; }, 2000ms);
  tree = srv.descendants();
  Response late = c.read_response(10000ms);
  INFO(late);
  CHECK(late.status == 504);
  CHECK(late.completed_at < d.at);
  check_tree_gone(srv, tree, 1500ms);
}

TEST_CASE("deadline: HOTWRAP_TIMEOUT_MS bounds a call with no deadline and caps a later one") {
  Server srv({"sleep", "60"}, {{"HOTWRAP_TIMEOUT_MS", "400"}});
  Conn c = srv.connect();
  for (bool with_deadline : {false, true}) {
    CAPTURE(with_deadline);
    Request req;
    if (with_deadline) {
      req.headers = {{"Fn-Deadline", deadline_in(60000ms).header}};
    } else {
      req.omit = {"Fn-Deadline"};
    }
    auto t0 = Clock::now();
    Response r = c.call(req, 5000ms);
    INFO(r);
    auto took = std::chrono::duration_cast<Ms>(Clock::now() - t0);
    CHECK(r.status == 504);
    CHECK(took >= 350ms);
    CHECK(took < 2000ms);
  }
  CHECK(srv.wait_stderr("HOTWRAP_TIMEOUT_MS=400 reached", 1000ms));
}

TEST_CASE("deadline: after streaming started, the response ends without the last chunk") {
  Server srv({"sh", "-c", "seq 1 20000; sleep 60"}, {{"HOTWRAP_BUFFER_BYTES", "1024"}});
  Conn c = srv.connect();
  Deadline d = deadline_in(2000ms);
  REQUIRE(c.send_request({.headers = {{"Fn-Deadline", d.header}}}));
  auto tree = wait_call_running(srv);
  Response r = c.read_response(10000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.chunked);
  CHECK_FALSE(r.complete);
  CHECK(r.closed);
  CHECK(r.completed_at < d.at);
  check_tree_gone(srv, tree);
}

TEST_CASE("disconnect: the caller closing while the body is still streaming in") {
  // cat waits for more stdin that never comes; the disconnect must end the call.
  Server srv({"cat"});
  {
    Conn c = srv.connect();
    std::string partial =
        "POST /call HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nFn-Call-Id: " +
        next_call_id() + "\r\nFn-Deadline: " + deadline_in(30000ms).header +
        "\r\n\r\n5\r\nhello\r\n";
    REQUIRE(c.send_raw(partial));
    auto tree = wait_call_running(srv);
    c.close();
    check_tree_gone(srv, tree);
  }
  Conn c2 = srv.connect();
  Response r = c2.call({.body = "next"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "next");
}
