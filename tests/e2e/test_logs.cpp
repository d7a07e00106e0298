// Logs: Fn log framing, the command's stderr, hotwrap's own log lines.
#include "harness.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

using namespace e2e;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  auto lines = split_lines(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// hotwrap's stderr as a FIFO the test holds open and reads only when it wants to, as a container
// runtime whose log reader can stall.
class LogFifo {
 public:
  LogFifo() : path_(tmp_.path() + "/stderr") {
    REQUIRE(::mkfifo(path_.c_str(), 0600) == 0);
    fd_ = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(fd_ >= 0);
  }
  ~LogFifo() { ::close(fd_); }
  LogFifo(const LogFifo&) = delete;
  LogFifo& operator=(const LogFifo&) = delete;
  // Starts hotwrap with its stderr going here.
  void redirect(Server::Options& o) const {
    o.wrapper = {"sh", "-c", "exec \"$@\" 2>" + path_, "sh"};
  }
  // Until the FIFO holds `bytes` unread (it holds 64 KiB): the log reader has stalled.
  bool wait_full(int bytes) const {
    return wait_until(
        [&] {
          int n = 0;
          return ::ioctl(fd_, FIONREAD, &n) == 0 && n >= bytes;
        },
        5000ms);
  }
  // Reads what is there, appending it to what was read before; returns all of it.
  const std::string& read() {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd_, buf, sizeof buf)) > 0) text_.append(buf, static_cast<size_t>(n));
    return text_;
  }

 private:
  TempDir tmp_;
  std::string path_;
  int fd_ = -1;
  std::string text_;
};

}  // namespace

TEST_CASE("logs: FN_LOGFRAME_NAME/HDR frame every call on stdout and stderr") {
  Server srv({"sh", "-c", "echo \"err-$FN_CALL_ID\" >&2; cat"},
             {{"FN_LOGFRAME_NAME", "CALL"}, {"FN_LOGFRAME_HDR", "Fn-Call-Id"}});
  Conn c = srv.connect();
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    Request req{.body = "x"};
    std::string frame = "\nCALL=" + req.call_id() + "\n";
    Response r = c.call(req);
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == "x");  // the frame never reaches the response
    INFO("stdout: " << printable(srv.stdout_text()));
    INFO("stderr: " << printable(srv.stderr_text()));
    CHECK(srv.wait_stdout(frame, 3000ms));
    CHECK(srv.wait_stderr(frame, 3000ms));
    // The frame comes first, then the call's own stderr.
    std::string err_line = "err-" + req.call_id();
    REQUIRE(srv.wait_stderr(err_line, 3000ms));
    std::string err = srv.stderr_text();
    CHECK(err.find(frame) < err.find(err_line));
  }
}

TEST_CASE("logs: with HOTWRAP_STDERR_PREFIX=0 the command's stderr passes unchanged") {
  Server srv({"sh", "-c", "echo line-one >&2; echo body; printf 'line-two\\nno-newline' >&2"},
             {{"HOTWRAP_STDERR_PREFIX", "0"}});
  Conn c = srv.connect();
  Response r = c.call({});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "body\n");  // stderr never mixes into the response
  REQUIRE(srv.wait_stderr("no-newline", 3000ms));
  std::string err = srv.stderr_text();
  INFO("stderr: " << printable(err));
  // Byte for byte, but for the newline that ends a last line without one.
  CHECK(err.find("line-one\nline-two\nno-newline\n") != std::string::npos);
  CHECK(srv.stdout_text().find("line-one") == std::string::npos);
}

TEST_CASE("logs: a call's stderr is a pipe to hotwrap, never hotwrap's own descriptor") {
  // Relayed, so that each line gets the call id and a failure's answer its reason; and the
  // command never inherits hotwrap's stderr, whatever flags it has.
  Server srv({"readlink", "/proc/self/fd/2"});
  Conn c = srv.connect();
  Response r = c.call({});
  INFO(r);
  REQUIRE(r.status == 200);
  char target[64] = {};
  std::string link = "/proc/" + std::to_string(srv.pid()) + "/fd/2";
  REQUIRE(::readlink(link.c_str(), target, sizeof target - 1) > 0);
  CHECK(r.body != std::string(target) + "\n");
  CHECK(r.body.starts_with("pipe:["));
}

TEST_CASE("logs: with HOTWRAP_STDERR_PREFIX=1 a last line without newline is ended") {
  Server srv({"sh", "-c", "printf 'first\\nno-newline' >&2"}, {{"HOTWRAP_STDERR_PREFIX", "1"}});
  Conn c = srv.connect();
  Request req;
  REQUIRE(c.call(req).status == 200);
  Request next;
  REQUIRE(c.call(next).status == 200);
  std::string expect = "[" + req.call_id() + "] first\n[" + req.call_id() + "] no-newline\n[" +
                       next.call_id() + "] first\n";
  CHECK(srv.wait_stderr(expect, 3000ms));
  INFO("stderr: " << printable(srv.stderr_text()));
}

TEST_CASE("logs: HOTWRAP_STDERR_PREFIX=1 prefixes each line with the call id") {
  Server srv({"sh", "-c", "echo line-one >&2; echo line-two >&2"},
             {{"HOTWRAP_STDERR_PREFIX", "1"}});
  Conn c = srv.connect();
  Request req;
  Response r = c.call(req);
  INFO(r);
  CHECK(r.status == 200);
  REQUIRE(srv.wait_stderr("line-two", 3000ms));
  std::string err = srv.stderr_text();
  INFO("stderr: " << printable(err));
  CHECK(has_line(err, "[" + req.call_id() + "] line-one"));
  CHECK(has_line(err, "[" + req.call_id() + "] line-two"));
}

TEST_CASE("logs: hotwrap's own lines are 'hotwrap: <level>: ...'") {
  Server srv({"sh", "-c", "read m; [ \"$m\" = ok ]"}, {{"HOTWRAP_LOG_LEVEL", "debug"}});
  Conn c = srv.connect();
  Request ok{.body = "ok\n"};
  Request bad{.body = "no\n"};
  CHECK(c.call(ok).status == 200);
  CHECK(c.call(bad).status == 502);
  // At debug level each call is logged with its id.
  CHECK(srv.wait_stderr("call " + bad.call_id() + ": ", 3000ms));
  std::string err = srv.stderr_text();
  INFO("stderr: " << printable(err, 4000));
  int own = 0;
  for (const auto& line : split_lines(err)) {
    if (!line.starts_with("hotwrap")) continue;
    ++own;
    CAPTURE(line);
    bool ok_format = line.starts_with("hotwrap: debug: ") || line.starts_with("hotwrap: info: ") ||
                     line.starts_with("hotwrap: warn: ") || line.starts_with("hotwrap: error: ");
    CHECK(ok_format);
  }
  CHECK(own > 0);
  CHECK(srv.stdout_text().empty());  // hotwrap's own lines never go to stdout
}

TEST_CASE("logs: no hotwrap line per successful call at the default level") {
  Server srv({"sh", "-c", "cat; echo \"marker $FN_CALL_ID\" >&2"});
  Conn c = srv.connect();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    Request req{.body = "x"};
    ids.push_back(req.call_id());
    REQUIRE(c.call(req).status == 200);
  }
  // Handshake: hotwrap handles one call at a time per loop turn, so once a later call's stderr
  // is in, whatever it logged for the earlier calls is in too.
  Request last{.body = "x"};
  REQUIRE(c.call(last).status == 200);
  REQUIRE(srv.wait_stderr("marker " + last.call_id(), 3000ms));
  std::string err = srv.stderr_text();
  INFO("stderr: " << printable(err, 4000));
  for (const auto& id : ids) {
    CAPTURE(id);
    CHECK(has_line(err, "[" + id + "] marker " + id));
    CHECK(err.find("hotwrap: info: call " + id) == std::string::npos);
    CHECK(err.find("hotwrap: warn: call " + id) == std::string::npos);
  }
}

TEST_CASE("logs: a huge stderr line without newline does not stall the call") {
  Server srv({"sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x >&2; echo >&2; echo ok"});
  Conn c = srv.connect();
  Response r = c.call({}, 20000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
  // Everything reaches the log eventually (possibly split into several lines).
  bool all = wait_until(
      [&] {
        std::string err = srv.stderr_text();
        return static_cast<std::size_t>(std::count(err.begin(), err.end(), 'x')) >= 3000000;
      },
      5000ms);
  CHECK(all);
}

TEST_CASE("logs: one summary line per failed call by default, per call with HOTWRAP_LOG_CALLS=1") {
  SUBCASE("default: failures and timeouts") {
    Server srv({"sh", "-c", "cat >/dev/null; echo partial; exit 3"});
    Conn c = srv.connect();
    Request req{.body = "12345"};
    Response r = c.call(req);
    CHECK(r.status == 502);
    CHECK(srv.wait_stderr(
        "hotwrap: warn: call " + req.call_id() + ": 502: the command exited with status 3 (",
        2000ms));
    CHECK(srv.wait_stderr(" ms, 5 B in, 8 B out)\n", 2000ms));
  }
  SUBCASE("HOTWRAP_LOG_CALLS=1: every call, prespawned ones marked") {
    Server srv({"cat"}, {{"HOTWRAP_LOG_CALLS", "1"}, {"HOTWRAP_PRESPAWN", "1"}});
    Conn c = srv.connect();
    Request req{.body = "abc"};
    REQUIRE(c.call(req).status == 200);
    CHECK(srv.wait_stderr(
        "hotwrap: info: call " + req.call_id() + ": 200: the command exited with status 0 (",
        2000ms));
    CHECK(srv.wait_stderr(" ms, 3 B in, 3 B out, prespawned)\n", 2000ms));
  }
}

TEST_CASE("logs: a stalled log reader blocks neither the loop, another call, nor a deadline") {
  LogFifo log;
  Server::Options o;
  o.argv = {"sh", "-c",
            "read m; case $m in noisy) seq 1 60000 >&2; echo ok;; slow) sleep 30;; *) echo ok;; "
            "esac"};
  o.env = {{"HOTWRAP_STDERR_PREFIX", "1"}};
  log.redirect(o);
  Server srv(o);
  Conn noisy = srv.connect();
  REQUIRE(noisy.send_request({.body = "noisy\n"}));
  // The FIFO fills up (64 KiB) long before the 60000 lines (about 400 KB with their ids) are out.
  REQUIRE(log.wait_full(60000));
  auto t0 = Clock::now();
  Conn other = srv.connect();
  Response quick = other.call({.body = "quick\n"}, 3000ms);
  auto quick_ms = std::chrono::duration_cast<Ms>(Clock::now() - t0).count();
  CHECK(quick.status == 200);
  CHECK(quick.body == "ok\n");
  MESSAGE("another call answered in " << quick_ms << " ms with the log stalled");
  CHECK(quick_ms < 1000);
  Deadline d = deadline_in(1500ms);
  Conn late = srv.connect();
  Response r = late.call({.headers = {{"Fn-Deadline", d.header}}, .body = "slow\n"}, 5000ms);
  CHECK(r.status == 504);
  CHECK(r.completed_at < d.at);
  // The reader comes back: every line arrives, nothing was lost, and the noisy call finishes.
  CHECK(wait_until([&] { return log.read().find("] 60000\n") != std::string::npos; }, 10000ms));
  Response ok = noisy.read_response(5000ms);
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok\n");
}

TEST_CASE(
    "logs: a call's lines are written before its answer; a stalled reader delays it boundedly") {
  LogFifo log;
  Server::Options o;
  o.argv = {"sh", "-c",
            "read m; [ \"$m\" = fill ] && seq 1 30000 >&2; echo \"why-$m\" >&2; exit 3"};
  log.redirect(o);
  Server srv(o);
  Conn c = srv.connect();
  SUBCASE("the reader keeps up: the lines are in the log before the answer reaches the caller") {
    Request req{.body = "one\n"};
    Response r = c.call(req);
    std::string got = log.read();  // read only now that the answer is here
    INFO("log: " << printable(got));
    CHECK(r.status == 502);
    CHECK(got.find("[" + req.call_id() + "] why-one\n") != std::string::npos);
    CHECK(got.find("call " + req.call_id() + ": 502: the command exited with status 3") !=
          std::string::npos);
  }
  SUBCASE("the reader stalls: the answer waits for its lines at most about 200 ms") {
    // Another call's stderr fills the log (that call then waits on its stderr, as it would on a
    // slow stderr of its own).
    Conn filler = srv.connect();
    REQUIRE(filler.send_request({.body = "fill\n"}));
    REQUIRE(log.wait_full(60000));
    Request req{.body = "two\n"};
    auto t0 = Clock::now();
    Response r = c.call(req, 5000ms);
    auto took = std::chrono::duration_cast<Ms>(Clock::now() - t0);
    MESSAGE("answered " << took.count() << " ms after the request, the log stalled");
    CHECK(r.status == 502);
    CHECK(took >= 150ms);
    CHECK(took < 1500ms);
    // Nothing lost: the line comes out once the reader reads again.
    CHECK(wait_until(
        [&] { return log.read().find("call " + req.call_id() + ": 502: ") != std::string::npos; },
        5000ms));
  }
}
