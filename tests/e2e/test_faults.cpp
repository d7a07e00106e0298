// The fault matrix (docs/reliability.md): each fault the outside world can throw at a running
// hotwrap, end to end on the built binary, with the outcome it must produce. Commands that fail or
// vanish, spawn failing with EAGAIN, children that misbehave with their pipes, callers that leave
// at every stage, SIGTERM at every stage, the socket directory going away, descriptor exhaustion,
// the request limits, and the security properties (argv, env, listeners, files).
//
// Waits are bounded and, where the system offers one, a handshake: the command announces itself
// on stderr ("running <call id>") before the test acts on it.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"

using namespace e2e;

namespace {

// ---- small helpers ------------------------------------------------------------------------------

bool path_exists(const std::string& p) {
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A deadline as RFC 3339 with milliseconds (hotwrap accepts fractions; the agent sends whole
// seconds, which would make these tests wait up to a second longer than they need).
std::string deadline_after(Ms ms) {
  auto tp = WallClock::now() + ms;
  std::time_t t = WallClock::to_time_t(tp);
  auto millis = std::chrono::duration_cast<Ms>(tp.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(millis));
  return out;
}

// The head of a request as the agent sends it, for tests that write raw bytes.
std::string raw_head(const std::string& call_id, const std::string& framing,
                     const std::string& extra = {}) {
  return "POST /call HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Go-http-client/1.1\r\n" + framing +
         "\r\nFn-Call-Id: " + call_id + "\r\nFn-Deadline: " + deadline_in(30000ms).header + "\r\n" +
         extra + "Accept-Encoding: gzip\r\n\r\n";
}

std::string chunk(std::string_view data) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "%zx\r\n", data.size());
  return hex + std::string(data) + "\r\n";
}

// True when the binary under test carries AddressSanitizer (the asan stage): its allocator keeps
// freed memory in quarantine (256 MiB by default), so RSS says nothing about hotwrap's own use.
bool hotwrap_is_sanitized() {
  static const bool sanitized =
      read_file(hotwrap_bin()).find("__asan_init") != std::string::npos;  // clang's or GCC's
  return sanitized;
}

long clock_ticks() {
  return ::sysconf(_SC_CLK_TCK);
}

// utime + stime of a process, in clock ticks; -1 if it is gone.
long cpu_ticks(pid_t pid) {
  std::string s = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(s.substr(close + 2));
  std::vector<std::string> f;
  std::string x;
  while (rest >> x) f.push_back(x);
  if (f.size() < 13) return -1;
  return std::stol(f[11]) + std::stol(f[12]);  // fields 14 and 15 of stat(5)
}

long rss_kib(pid_t pid) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Processes under hotwrap that are still alive (zombies excluded).
std::vector<pid_t> live_descendants(const Server& srv) {
  std::vector<pid_t> out;
  for (pid_t p : srv.descendants()) {
    if (proc_alive(p)) out.push_back(p);
  }
  return out;
}

void check_all_dead(const std::vector<pid_t>& pids) {
  bool gone = wait_until(
      [&] { return std::none_of(pids.begin(), pids.end(), [](pid_t p) { return proc_alive(p); }); },
      3000ms);
  std::string alive;
  for (pid_t p : pids) {
    if (proc_alive(p)) alive += std::to_string(p) + " ";
  }
  CHECK_MESSAGE(gone, "still alive: " << alive);
}

// Waits (bounded) until hotwrap has no child and exactly `fds` descriptors.
void check_settled(const Server& srv, int fds) {
  bool settled =
      wait_until([&] { return srv.children().empty() && srv.fd_count() == fds; }, 5000ms);
  CHECK_MESSAGE(settled, "children " << srv.children().size() << ", zombies "
                                     << srv.zombies().size() << ", fds " << srv.fd_count()
                                     << " (baseline " << fds << "); stderr: " << srv.stderr_text());
}

// Descriptor count of an idle hotwrap after one call (lazily opened descriptors included).
int idle_fds(const Server& srv, const Request& warm) {
  {
    Conn c = srv.connect();
    Response r = c.call(warm);
    REQUIRE_MESSAGE(r.status == 200, r);
  }
  int fds = -1;
  wait_until(
      [&] {
        int now = srv.fd_count();
        bool same = now == fds && srv.children().empty();
        fds = now;
        return same;
      },
      3000ms);
  return fds;
}

void check_exit_0(Server& srv, Ms timeout) {
  auto st = srv.wait_exit(timeout);
  REQUIRE_MESSAGE(st.has_value(), "hotwrap still running "
                                      << timeout.count()
                                      << " ms after the signal; stderr: " << srv.stderr_text());
  CHECK_MESSAGE(exit_code(st) == 0, describe_status(st) << "; stderr: " << srv.stderr_text());
}

// Sets an environment variable of the test process for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A uid with no other process on the machine: RLIMIT_NPROC counts per real uid.
constexpr int kUnprivilegedUid = 54321;

// Starts hotwrap through `prefix` (e.g. prlimit, setpriv): a script that execs the prefix and
// then the real binary, so that the pid the harness watches is hotwrap's own.
std::unique_ptr<Server> start_wrapped(const TempDir& scratch, const std::string& prefix,
                                      Server::Options opts, bool unprivileged) {
  std::string script = scratch.write_file(
      "hotwrap-wrapped", "#!/bin/sh\nexec " + prefix + " " + hotwrap_bin() + " \"$@\"\n", 0755);
  if (unprivileged) {
    auto inner = std::move(opts.before_spawn);
    opts.before_spawn = [inner](const std::string& dir) {
      // The socket directory is mkdtemp's 0700 root-owned one; the agent's is 0777.
      REQUIRE(::chmod(dir.c_str(), 0777) == 0);
      if (inner) inner(dir);
    };
  }
  ScopedEnv bin("HOTWRAP_BIN", script);
  return std::make_unique<Server>(std::move(opts));
}

std::string as_unprivileged() {
  return "setpriv --reuid=" + std::to_string(kUnprivilegedUid) +
         " --regid=" + std::to_string(kUnprivilegedUid) + " --clear-groups --";
}

// A connect() that does not wait on a full listen queue: 0, or errno (EAGAIN: queue full).
int connect_nonblocking(const std::string& path, int& fd_out) {
  fd_out = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_out < 0) return errno;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd_out, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return 0;
  int err = errno;
  ::close(fd_out);
  fd_out = -1;
  return err;
}

// A response read without keeping its body: for outputs that never end.
struct Stream {
  std::string head;  // status line and headers
  std::string tail;  // the last bytes received
  size_t bytes = 0;  // after the head
  bool eof = false;  // the server closed the connection
  Clock::time_point eof_at{};
};

// Reads from `fd` until EOF or `timeout`; with `consume` false, waits `idle_first` without reading
// first (a caller that does not keep up).
Stream read_stream(int fd, Ms timeout, Ms idle_first = 0ms) {
  Stream s;
  if (idle_first.count() > 0) {
    pollfd p{fd, 0, 0};  // no events: just a bounded wait that reads nothing
    ::poll(&p, 1, static_cast<int>(idle_first.count()));
  }
  auto deadline = Clock::now() + timeout;
  std::vector<char> buf(1 << 16);
  std::string pre;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
    if (::poll(&p, 1, static_cast<int>(std::max<long long>(left, 1))) <= 0) continue;
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      s.eof = true;
      s.eof_at = Clock::now();
      break;
    }
    std::string_view got(buf.data(), static_cast<size_t>(n));
    if (s.head.empty()) {
      pre.append(got);
      auto end = pre.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      s.head = pre.substr(0, end + 4);
      got = std::string_view(pre).substr(end + 4);
      s.bytes += got.size();
      s.tail = std::string(got.substr(got.size() > 64 ? got.size() - 64 : 0));
      continue;
    }
    s.bytes += got.size();
    s.tail = (s.tail + std::string(got))
                 .substr(s.tail.size() + got.size() > 64 ? s.tail.size() + got.size() - 64 : 0);
  }
  return s;
}

// Socket inodes among a process's descriptors.
std::set<std::string> socket_inodes(pid_t pid) {
  std::set<std::string> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    char target[256];
    std::string link = dir + "/" + e->d_name;
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    std::string t(target, static_cast<size_t>(n));
    if (t.rfind("socket:[", 0) == 0) out.insert(t.substr(8, t.size() - 9));
  }
  ::closedir(d);
  return out;
}

// Inodes listed in one /proc/net table (column `col`, 0-based, of each line after the header).
std::set<std::string> net_inodes(const std::string& table, size_t col) {
  std::set<std::string> out;
  std::istringstream in(read_file("/proc/net/" + table));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> cols;
    std::string c;
    while (f >> c) cols.push_back(c);
    if (cols.size() > col) out.insert(cols[col]);
  }
  return out;
}

const std::string kRunning = "echo \"running $FN_CALL_ID\" >&2; ";

}  // namespace

// ---- the command --------------------------------------------------------------------------------

TEST_CASE("faults: a command missing or not executable at start-up exits 127 / 126, naming it") {
  TempDir d;
  SUBCASE("missing: 127") {
    RunResult r = run_to_exit({d.path() + "/no-such-command"});
    REQUIRE(r.status.has_value());
    CHECK_MESSAGE(exit_code(r.status) == 127, describe_status(r.status));
    CHECK(r.err.find("no-such-command") != std::string::npos);
  }
  SUBCASE("not executable: 126") {
    std::string script = d.write_file("not-executable", "#!/bin/sh\necho hi\n", 0644);
    RunResult r = run_to_exit({script});
    REQUIRE(r.status.has_value());
    CHECK_MESSAGE(exit_code(r.status) == 126, describe_status(r.status));
    CHECK(r.err.find("not-executable") != std::string::npos);
  }
}

TEST_CASE("faults: a command deleted or made non-executable after start is a 502 per call") {
  TempDir d;
  const std::string script_text = "#!/bin/sh\necho alive\n";
  std::string script = d.write_file("fn.sh", script_text, 0755);
  Server srv({script});
  Conn c = srv.connect();
  Response r = c.call({});
  REQUIRE_MESSAGE(r.status == 200, r);
  CHECK(r.body == "alive\n");

  std::string why;
  SUBCASE("deleted") {
    REQUIRE(::unlink(script.c_str()) == 0);
    why = std::strerror(ENOENT);
  }
  SUBCASE("chmod -x") {
    REQUIRE(::chmod(script.c_str(), 0644) == 0);
    why = std::strerror(EACCES);
  }
  for (int i = 0; i < 2; ++i) {  // every call, on the same kept-alive connection
    Response bad = c.call({});
    INFO(bad);
    CHECK(bad.status == 502);
    CHECK(bad.complete);
    CHECK(bad.body.find(why) != std::string::npos);
  }
  CHECK(srv.wait_stderr(why, 2000ms));
  CHECK_FALSE(srv.exited());
  // Put back, it serves again.
  d.write_file("fn.sh", script_text, 0755);
  Response back = c.call({});
  INFO(back);
  CHECK(back.status == 200);
  CHECK(back.body == "alive\n");
}

TEST_CASE("faults: posix_spawn failing with EAGAIN (RLIMIT_NPROC) is a 502 and a log line") {
  if (::geteuid() != 0) {
    // RLIMIT_NPROC binds only a non-root uid; switching to one needs root.
    skip_test("needs root to run hotwrap as uid " + std::to_string(kUnprivilegedUid));
    return;
  }
  TempDir scratch;
  Server::Options o;
  // `exec cat`: while a call runs, the uid has exactly two processes, hotwrap and cat.
  o.argv = {"sh", "-c", kRunning + "exec cat"};
  auto srv = start_wrapped(scratch, "prlimit --nproc=2:2 -- " + as_unprivileged(), o, true);

  Conn a = srv->connect();
  REQUIRE(a.send_raw(raw_head("nproc-a", "Transfer-Encoding: chunked") + chunk("abc")));
  REQUIRE_MESSAGE(srv->wait_stderr("running nproc-a", 5000ms), srv->stderr_text());

  Conn b = srv->connect();
  Response refused = b.call({.body = "b"});
  INFO(refused);
  CHECK(refused.status == 502);
  CHECK(refused.body.find(std::strerror(EAGAIN)) != std::string::npos);
  CHECK(srv->wait_stderr(std::strerror(EAGAIN), 2000ms));
  CHECK_FALSE(srv->exited());

  // The running call is unaffected, and once it has ended the next spawn succeeds.
  REQUIRE(a.send_raw("0\r\n\r\n"));
  Response ra = a.read_response(5000ms);
  INFO(ra);
  CHECK(ra.status == 200);
  CHECK(ra.body == "abc");
  Response rb = b.call({.body = "again"});
  INFO(rb);
  CHECK(rb.status == 200);
  CHECK(rb.body == "again");
}

TEST_CASE("faults: a command killed by a signal is a 502 naming the signal; the next call works") {
  Server srv({"sh", "-c", "read m; if [ \"$m\" = die ]; then kill -SEGV $$; fi; echo ok"});
  Conn c = srv.connect();
  Response r = c.call({.body = "die\n"});
  INFO(r);
  CHECK(r.status == 502);
  CHECK(r.body.find("signal 11") != std::string::npos);
  Response ok = c.call({.body = "live\n"});
  INFO(ok);
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok\n");
}

TEST_CASE("faults: a large body into a command that reads little of it or none") {
  const std::string body(16 << 20, 'x');
  std::vector<std::string> argv;
  std::string expected, expected_next;
  SUBCASE("closes stdin early: head -c 1") {
    argv = {"head", "-c", "1"};
    expected = "x";
    expected_next = "y";
  }
  SUBCASE("never reads stdin") {
    argv = {"echo", "ok"};
    expected = expected_next = "ok\n";
  }
  Server srv(argv);
  Conn c = srv.connect();
  for (auto framing : {Request::Framing::Chunked, Request::Framing::ContentLength}) {
    Response r = c.call({.body = body, .framing = framing}, 30000ms);
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.complete);
    CHECK(r.body == expected);
  }
  // The rest of each body was read and dropped: the connection is still in step.
  Response next = c.call({.body = "y"});
  INFO(next);
  CHECK(next.status == 200);
  CHECK(next.body == expected_next);
}

TEST_CASE("faults: a 1 MiB stderr line without newline does not stall a concurrent call") {
  // 64 pieces of 16 KiB with no newline, written over a while, then the answer. With the prefix
  // on, the lines go through hotwrap, which must not hold them whole.
  Server srv({"sh", "-c",
              "read m; if [ \"$m\" = noisy ]; then " + kRunning +
                  "i=0; while [ $i -lt 64 ]; do head -c 16384 /dev/zero | tr '\\0' x >&2; "
                  "i=$((i+1)); done; fi; echo ok"},
             {{"HOTWRAP_STDERR_PREFIX", "1"}});
  Conn noisy = srv.connect();
  REQUIRE(noisy.send_request({.headers = {{"Fn-Call-Id", "noisy"}}, .body = "noisy\n"}));
  REQUIRE(srv.wait_stderr("running noisy", 5000ms));
  Conn quiet = srv.connect();
  Ms slowest{0};
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    Response r = quiet.call({.body = "quiet\n"}, 10000ms);
    slowest = std::max(slowest, std::chrono::duration_cast<Ms>(Clock::now() - t0));
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == "ok\n");
  }
  MESSAGE("slowest concurrent call: " << slowest.count() << " ms");
  CHECK(slowest < 2000ms);
  Response r = noisy.read_response(20000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
  bool all = wait_until(
      [&] {
        std::string err = srv.stderr_text();
        return static_cast<size_t>(std::count(err.begin(), err.end(), 'x')) >= (1u << 20);
      },
      5000ms);
  CHECK(all);
}

TEST_CASE("faults: a command filling stdout forever is cut at the deadline, memory bounded") {
  Server srv({"sh", "-c", "read m; if [ \"$m\" = forever ]; then exec yes; fi; echo ok"});
  int fds = idle_fds(srv, {.body = "warm\n"});
  Ms idle_first{0};
  SUBCASE("the caller reads everything") {}
  SUBCASE("the caller does not read until the deadline") {
    idle_first = 2500ms;
  }
  Conn s = srv.connect();
  auto sent_at = Clock::now();
  REQUIRE(s.send_raw("POST /call HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8\r\nFn-Call-Id: " +
                     next_call_id() + "\r\nFn-Deadline: " + deadline_after(2000ms) +
                     "\r\n\r\nforever\n"));
  long max_rss = 0;
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done) {
      max_rss = std::max(max_rss, rss_kib(srv.pid()));
      std::this_thread::sleep_for(20ms);  // sampling period, not a synchronisation
    }
  });
  Stream st = read_stream(s.fd(), 10000ms, idle_first);
  done = true;
  sampler.join();
  INFO("head: " << printable(st.head) << " bytes " << st.bytes << " tail " << printable(st.tail));
  MESSAGE("streamed " << st.bytes << " bytes; hotwrap's largest RSS " << max_rss << " KiB");
  CHECK(st.head.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(st.head.find("Transfer-Encoding: chunked") != std::string::npos);
  // Read as it came, the output streamed past the buffer; unread, it stopped at what the socket
  // and hotwrap's bounded queue hold (backpressure).
  CHECK(st.bytes > (idle_first.count() > 0 ? 1u : (1u << 20)));
  REQUIRE(st.eof);
  // Cut, not finished: no terminating zero-length chunk.
  CHECK(st.tail.find("\r\n0\r\n\r\n") == std::string::npos);
  // The agent's own timer fires at Fn-Deadline: hotwrap must have given up before it.
  CHECK(st.eof_at - sent_at < 2000ms + 500ms);
  if (hotwrap_is_sanitized()) {
    MESSAGE("RSS bound not checked: the binary under test is built with AddressSanitizer");
  } else {
    CHECK(max_rss < 64 * 1024);
  }
  check_settled(srv, fds);
  Conn again = srv.connect();
  Response r = again.call({.body = "next\n"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
}

TEST_CASE("faults: grandchildren holding stdout and stderr do not delay the reply") {
  Server srv({"sh", "-c", "sleep 30 & sleep 30 >&2 & echo ok"});
  int fds = idle_fds(srv, {});
  Conn c = srv.connect();
  auto t0 = Clock::now();
  Response r = c.call({}, 10000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
  CHECK(Clock::now() - t0 < 2000ms);
  check_settled(srv, fds + 1);  // + the kept-alive connection
}

TEST_CASE("faults: a double-forked daemon does not delay the reply or leak into the next one") {
  Server srv({"sh", "-c", "read m; (setsid sh -c 'sleep 30' &); echo \"$m\""});
  Conn c = srv.connect();
  for (std::string m : {"first", "second"}) {
    auto t0 = Clock::now();
    Response r = c.call({.body = m + "\n"}, 10000ms);
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == m + "\n");
    CHECK(Clock::now() - t0 < 2000ms);
  }
  // The daemon left the call's process group on purpose: it is not the call's to kill, but as
  // child subreaper hotwrap has it as a child and will reap it.
  std::vector<pid_t> daemons = srv.children();
  MESSAGE("escaped daemons still running under hotwrap: " << daemons.size());
}

TEST_CASE("faults: a far-future Fn-Deadline runs the call (no overflow into 'already passed')") {
  // Deadlines are microseconds since 1970 (int64); the system clock counts nanoseconds and
  // overflows int64 after 2262-04-11. A deadline past that must still mean "not yet".
  Server srv({"echo", "ran"});
  Conn c = srv.connect();
  for (std::string d : {"2200-01-01T00:00:00Z", "2263-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    Response r = c.call({.headers = {{"Fn-Deadline", d}}});
    INFO("Fn-Deadline: " << d << "\n" << r);
    CHECK(r.status == 200);
    CHECK(r.body == "ran\n");
  }
}

// ---- the caller ---------------------------------------------------------------------------------

TEST_CASE("faults: the caller leaving at any stage leaves no process and no descriptor behind") {
  Server srv(
      {"sh", "-c",
       kRunning +
           "read m; case $m in sleep) exec sleep 30;; stream) exec yes;; esac; echo \"$m\"; cat"});
  int fds = idle_fds(srv, {.body = "warm\n"});
  std::string id = next_call_id();
  {
    Conn c = srv.connect();
    SUBCASE("during the head") {
      REQUIRE(
          c.send_raw("POST /call HTTP/1.1\r\nHost: localhost\r\nFn-Call-Id: " + id + "\r\nFn-"));
      REQUIRE(c.send_raw(""));
    }
    SUBCASE("during the body") {
      REQUIRE(
          c.send_raw(raw_head(id, "Content-Length: 100000") + "body\n" + std::string(1000, 'b')));
      REQUIRE(srv.wait_stderr("running " + id, 5000ms));
    }
    SUBCASE("while the command runs") {
      REQUIRE(c.send_raw(raw_head(id, "Content-Length: 6") + "sleep\n"));
      REQUIRE(srv.wait_stderr("running " + id, 5000ms));
      REQUIRE(wait_until([&] { return !live_descendants(srv).empty(); }, 3000ms));
    }
    SUBCASE("while the response streams") {
      REQUIRE(c.send_raw(raw_head(id, "Content-Length: 7") + "stream\n"));
      char buf[65536];
      size_t got = 0;
      auto until = Clock::now() + 5000ms;
      while (got < (2u << 20) && Clock::now() < until) {
        pollfd p{c.fd(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      REQUIRE_MESSAGE(got >= (2u << 20), "only " << got << " bytes streamed");
    }
    std::vector<pid_t> tree = live_descendants(srv);
    c.close();
    check_all_dead(tree);
  }
  check_settled(srv, fds);
  CHECK(srv.zombies().empty());
  Conn next = srv.connect();
  Response r = next.call({.body = "next\n"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "next\n");
}

TEST_CASE("faults: SIGTERM at any stage exits 0, removes the socket files, leaves no child") {
  Server srv({"sh", "-c",
              kRunning + "read m; case $m in sleep) exec sleep 30;; stream) exec yes;; esac; cat"},
             {{"HOTWRAP_SHUTDOWN_GRACE_MS", "1000"}});
  std::optional<Conn> c;
  std::string id = next_call_id();
  SUBCASE("idle, no connection") {}
  SUBCASE("idle, a kept-alive connection") {
    c.emplace(srv.connect());
    REQUIRE(c->call({.body = "x\n"}).status == 200);
  }
  SUBCASE("mid-head") {
    c.emplace(srv.connect());
    REQUIRE(c->send_raw("POST /call HTTP/1.1\r\nHost: localhost\r\nFn-Call-Id: " + id + "\r\n"));
  }
  SUBCASE("mid-body") {
    c.emplace(srv.connect());
    REQUIRE(c->send_raw(raw_head(id, "Content-Length: 100000") + "body\n"));
    REQUIRE(srv.wait_stderr("running " + id, 5000ms));
  }
  SUBCASE("command running") {
    c.emplace(srv.connect());
    REQUIRE(c->send_raw(raw_head(id, "Content-Length: 6") + "sleep\n"));
    REQUIRE(srv.wait_stderr("running " + id, 5000ms));
  }
  SUBCASE("response streaming") {
    c.emplace(srv.connect());
    REQUIRE(c->send_raw(raw_head(id, "Content-Length: 7") + "stream\n"));
    REQUIRE(srv.wait_stderr("running " + id, 5000ms));
    // The response has begun: its head is on the wire.
    pollfd p{c->fd(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 5000) == 1);
  }
  std::vector<pid_t> tree = live_descendants(srv);
  srv.signal(SIGTERM);
  check_exit_0(srv, 1000ms + 4000ms);
  CHECK_FALSE(path_exists(srv.socket_path()));
  CHECK_FALSE(path_exists(srv.phony_path()));
  check_all_dead(tree);
  if (c) CHECK(c->wait_closed(2000ms));
}

TEST_CASE("faults: SIGTERM leaves no child, not even a daemon that escaped its call's group") {
  // The daemon leaves the call's process group on purpose, so the end of the call does not kill
  // it; as child subreaper hotwrap inherits it. When hotwrap stops, nothing of the function may
  // outlive it (outside a container nobody else would ever stop it).
  TempDir d;
  Server srv({"sh", "-c",
              "(setsid sh -c 'touch \"$HANDSHAKE_DIR/up\"; exec sleep 30' &); "
              "while [ ! -e \"$HANDSHAKE_DIR/up\" ]; do sleep 0.01; done; echo ok"},
             {{"HANDSHAKE_DIR", d.path()}, {"HOTWRAP_SHUTDOWN_GRACE_MS", "500"}});
  Conn c = srv.connect();
  Response r = c.call({}, 10000ms);
  INFO(r);
  REQUIRE(r.status == 200);
  std::vector<pid_t> tree;
  REQUIRE(wait_until(
      [&] {
        tree = live_descendants(srv);
        return !tree.empty();
      },
      3000ms));
  srv.signal(SIGTERM);
  check_exit_0(srv, 5000ms);
  check_all_dead(tree);
  for (pid_t p : tree) {
    if (proc_alive(p)) ::kill(p, SIGKILL);  // not left running whatever the verdict
  }
}

// ---- the surroundings ---------------------------------------------------------------------------

TEST_CASE("faults: the socket directory removed while serving: the open connection still works") {
  Server srv({"cat"});
  Conn c = srv.connect();
  REQUIRE(c.call({.body = "before"}).status == 200);
  std::error_code ec;
  std::filesystem::remove_all(srv.dir(), ec);
  REQUIRE_FALSE(ec);
  Response r = c.call({.body = "after"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "after");
  srv.signal(SIGTERM);
  check_exit_0(srv, 5000ms);
}

TEST_CASE("faults: the socket directory made read-only while serving: serves, then exits 0") {
  if (::geteuid() != 0) {
    skip_test("needs root to run hotwrap as uid " + std::to_string(kUnprivilegedUid) +
              " (root ignores the directory's mode)");
    return;
  }
  TempDir scratch;
  Server::Options o;
  o.argv = {"cat"};
  auto srv = start_wrapped(scratch, as_unprivileged(), o, true);
  Conn c = srv->connect();
  REQUIRE(c.call({.body = "before"}).status == 200);
  REQUIRE(::chmod(srv->dir().c_str(), 0555) == 0);
  Response r = c.call({.body = "after"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "after");
  srv->signal(SIGTERM);
  check_exit_0(*srv, 5000ms);
  ::chmod(srv->dir().c_str(), 0700);
}

TEST_CASE(
    "faults: out of descriptors (RLIMIT_NOFILE 350, 400 connections) neither spins nor dies") {
  TempDir scratch;
  Server::Options o;
  o.argv = {"cat"};
  o.env = {{"HOTWRAP_MAX_CONNECTIONS", "1000"}};
  auto srv = start_wrapped(scratch, "prlimit --nofile=350:350 --", o, false);
  {
    Conn first = srv->connect();
    REQUIRE(first.call({.body = "warm"}).status == 200);
  }

  // 400 connections: hotwrap accepts until it has no descriptor left, the rest wait in the listen
  // queue. A connect() refused because the queue is momentarily full is tried again (bounded).
  std::vector<int> socks;
  auto until = Clock::now() + 10000ms;
  while (socks.size() < 400 && Clock::now() < until) {
    int fd = -1;
    int err = connect_nonblocking(srv->socket_path(), fd);
    if (err == 0) {
      socks.push_back(fd);
    } else {
      REQUIRE_MESSAGE(err == EAGAIN, "connect: " << std::strerror(err));
      pollfd none{-1, 0, 0};
      ::poll(&none, 1, 1);  // the queue is full: give hotwrap a millisecond to accept
    }
  }
  MESSAGE(socks.size() << " connections open; hotwrap has " << srv->fd_count() << " descriptors");
  REQUIRE(socks.size() == 400);
  REQUIRE_MESSAGE(srv->wait_stderr(std::strerror(EMFILE), 5000ms),
                  "hotwrap never reported running out of descriptors; fds " << srv->fd_count());

  // A second of hotwrap's life at the limit: a loop retrying accept() at once would burn it all.
  long t0 = cpu_ticks(srv->pid());
  auto w0 = Clock::now();
  std::this_thread::sleep_for(1000ms);  // the measurement window itself
  long t1 = cpu_ticks(srv->pid());
  auto wall = std::chrono::duration_cast<Ms>(Clock::now() - w0);
  long cpu_ms = (t1 - t0) * 1000 / clock_ticks();
  MESSAGE("hotwrap used " << cpu_ms << " ms of CPU in " << wall.count() << " ms at the limit, "
                          << srv->fd_count() << " descriptors");
  CHECK(t1 >= 0);
  CHECK(cpu_ms < 150);
  CHECK_FALSE(srv->exited());
  CHECK(proc_alive(srv->pid()));

  // A call on a connection accepted before the limit: no descriptor is left for the command's
  // pipes, so it cannot run; the caller gets a 502 and hotwrap carries on.
  std::string req = raw_head(next_call_id(), "Content-Length: 2", "Connection: close\r\n") + "hi";
  REQUIRE(::send(socks.front(), req.data(), req.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(req.size()));
  Stream at_limit = read_stream(socks.front(), 5000ms);
  INFO("at the limit: " << printable(at_limit.head) << printable(at_limit.tail));
  CHECK(at_limit.head.rfind("HTTP/1.1 502", 0) == 0);
  CHECK(at_limit.eof);
  CHECK_FALSE(srv->exited());

  for (int fd : socks) ::close(fd);
  socks.clear();
  CHECK(wait_until([&] { return srv->fd_count() < 40; }, 5000ms));
  Conn after = srv->connect();
  Response r = after.call({.body = "served again"}, 10000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "served again");
}

// ---- limits -------------------------------------------------------------------------------------

TEST_CASE("faults: requests over the limits get their status and a log line; others are served") {
  Server srv({"sh", "-c", kRunning + "exec cat"}, {{"HOTWRAP_MAX_HEADER_BYTES", "1024"},
                                                   {"HOTWRAP_MAX_HEADERS", "20"},
                                                   {"HOTWRAP_MAX_URL_BYTES", "256"},
                                                   {"HOTWRAP_MAX_BODY_BYTES", "1000"}});
  Conn bystander = srv.connect();
  REQUIRE(bystander.call({.body = "hi"}).status == 200);
  Request req;
  int status = 0;
  SUBCASE("header bytes: 431") {
    req.headers = {{"X-Big", std::string(2000, 'h')}};
    status = 431;
  }
  SUBCASE("header count: 431") {
    for (int i = 0; i < 30; ++i) req.headers.emplace_back("X-H" + std::to_string(i), "v");
    status = 431;
  }
  SUBCASE("URL length: 414") {
    req.path = "/call?" + std::string(500, 'q');
    status = 414;
  }
  SUBCASE("body with Content-Length: 413") {
    req.body = std::string(2000, 'b');
    req.framing = Request::Framing::ContentLength;
    status = 413;
  }
  SUBCASE("chunked body (the agent's framing), in the same write as the head: 413") {
    req.body = std::string(2000, 'b');
    req.chunk_size = 100;
    status = 413;
  }
  bool after_start = false;
  SUBCASE("chunked body streaming in after the call started: 413") {
    after_start = true;
    status = 413;
  }
  Conn c = srv.connect();
  Response r;
  if (after_start) {
    // As the agent sends it: the head, then the caller's body as it comes. The limit is passed
    // while the command already runs; the caller must still learn why.
    std::string id = next_call_id();
    REQUIRE(c.send_raw(raw_head(id, "Transfer-Encoding: chunked") + chunk(std::string(600, 'b'))));
    REQUIRE(srv.wait_stderr("running " + id, 5000ms));
    c.send_raw(chunk(std::string(600, 'b')) + "0\r\n\r\n");  // may fail: hotwrap may close
    r = c.read_response(5000ms);
  } else {
    r = c.call(req);
  }
  INFO(r);
  CHECK(r.status == status);
  CHECK(c.wait_closed(2000ms));
  CHECK(srv.wait_stderr("(" + std::to_string(status) + ")", 2000ms));
  CHECK_FALSE(srv.exited());
  Response ok = bystander.call({.body = "still here"});
  INFO(ok);
  CHECK(ok.status == 200);
  CHECK(ok.body == "still here");
}

TEST_CASE("faults: connections over HOTWRAP_MAX_CONNECTIONS wait, are logged, then are served") {
  Server srv({"cat"}, {{"HOTWRAP_MAX_CONNECTIONS", "2"}});
  std::optional<Conn> a(srv.connect());
  Conn b = srv.connect();
  REQUIRE(a->call({.body = "a"}).status == 200);
  REQUIRE(b.call({.body = "b"}).status == 200);
  Conn queued = srv.connect();  // in the listen queue: hotwrap does not accept a third
  REQUIRE(queued.send_request({.body = "c"}));
  Response early = queued.read_response(500ms);  // bounded: nothing may come yet
  CHECK(early.timed_out);
  CHECK(early.status == 0);
  // The operator learns why callers wait.
  CHECK_MESSAGE(
      srv.wait_stderr("connections", 2000ms),
      "no log line when HOTWRAP_MAX_CONNECTIONS is reached; stderr: " << srv.stderr_text());
  a.reset();
  Response r = queued.read_response(5000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "c");
  CHECK_FALSE(srv.exited());
}

// ---- security -----------------------------------------------------------------------------------

TEST_CASE("security: no request content reaches the command's argv") {
  Server srv({"/bin/sh", "-c", "tr '\\0' '\\n' < /proc/$$/cmdline", "sh", "fixed-arg"});
  Conn c = srv.connect();
  Response r = c.call({.path = "/call?arg=INJECT%20$(id)",
                       .headers = {{"Fn-Arg", "INJECT"}, {"X-Arg", "; INJECT"}},
                       .body = "INJECT\n-c\n"});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "/bin/sh\n-c\ntr '\\0' '\\n' < /proc/$$/cmdline\nsh\nfixed-arg\n");
}

TEST_CASE("security: headers add only FN_[A-Z0-9_]+ names and never change another variable") {
  Server srv({"env", "-0"}, {{"FN_APP_ID", "from-the-container"}});
  std::string base_text = read_file("/proc/" + std::to_string(srv.pid()) + "/environ");
  auto parse_env = [](const std::string& text) {
    std::map<std::string, std::string> m;
    std::istringstream in(text);
    std::string kv;
    while (std::getline(in, kv, '\0')) {
      auto eq = kv.find('=');
      m[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
    }
    return m;
  };
  auto base = parse_env(base_text);
  REQUIRE(base.count("PATH") == 1);
  Conn c = srv.connect();
  Response r = c.call({.headers = {{"Path", "/evil"},
                                   {"LD_PRELOAD", "/evil.so"},
                                   {"Ld-Preload", "/evil.so"},
                                   {"Fn-App-Id", "from-a-header"},
                                   {"Fn-Path", "/evil"},
                                   {"Fn-A.B", "dot"},
                                   {"fn-lower-case", "ok"},
                                   {"X-Other", "v"},
                                   {"Fn-Http-H-X-My", "trigger"},
                                   {"Content-Type", "text/plain"}}});
  INFO(r);
  REQUIRE(r.status == 200);
  auto got = parse_env(r.body);
  for (const auto& [name, value] : base) {
    CHECK_MESSAGE(got.count(name) == 1, name << " missing");
    if (got.count(name) == 1) CHECK_MESSAGE(got[name] == value, name << " changed");
  }
  for (const auto& [name, value] : got) {
    // hotwrap's own, the same in every contract.
    if (base.count(name) == 1 || name == "HOTWRAP_CALL_ID" || name == "HOTWRAP_DEADLINE") continue;
    bool shape = name.size() > 3 && name.rfind("FN_", 0) == 0 &&
                 std::all_of(name.begin(), name.end(), [](char ch) {
                   return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
                 });
    CHECK_MESSAGE(shape, "generated a variable named '" << printable(name) << "'");
  }
  CHECK(got["FN_APP_ID"] == "from-the-container");
  CHECK(got["FN_LOWER_CASE"] == "ok");
  CHECK(got["FN_HTTP_H_X_MY"] == "trigger");
  CHECK(got.count("FN_PATH") == 1);  // Fn-Path is a fine name; it is not PATH
  CHECK(got.count("HOTWRAP_CALL_ID") == 1);
  CHECK(got.count("HOTWRAP_DEADLINE") == 1);
}

TEST_CASE("security: chunked trailer fields never reach the command's environment") {
  // A trailer arrives after the body; the call was started from the head. Whether the trailer is
  // in the same read as the head must not matter: it is never part of the call.
  Server srv({"sh", "-c", kRunning + "cat >/dev/null; echo \"${FN_SNEAKY-unset}\""});
  Conn c = srv.connect();
  std::string id = next_call_id();
  std::string req = raw_head(id, "Transfer-Encoding: chunked") + chunk("abc") +
                    "0\r\nFn-Sneaky: from-the-trailer\r\n\r\n";
  SUBCASE("in one write") {
    REQUIRE(c.send_raw(req));
  }
  SUBCASE("the trailer in a later write") {
    auto cut = req.find("0\r\nFn-Sneaky");
    REQUIRE(c.send_raw(req.substr(0, cut)));
    REQUIRE(srv.wait_stderr("running " + id, 5000ms));  // the call started from the head alone
    REQUIRE(c.send_raw(req.substr(cut)));
  }
  Response r = c.read_response(5000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "unset\n");
}

TEST_CASE("security: the unix socket is hotwrap's only socket listening; no inet socket at all") {
  Server srv({"cat"});
  Conn c = srv.connect();
  REQUIRE(c.call({.body = "x"}).status == 200);
  std::set<std::string> mine = socket_inodes(srv.pid());
  REQUIRE_FALSE(mine.empty());
  for (const char* table : {"tcp", "tcp6", "udp", "udp6", "raw", "raw6"}) {
    for (const std::string& inode : net_inodes(table, 9)) {
      CHECK_MESSAGE(mine.count(inode) == 0, "hotwrap has a socket in /proc/net/" << table);
    }
  }
  // /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path; listening = flag 00010000.
  std::istringstream in(read_file("/proc/net/unix"));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> listening;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> cols;
    std::string col;
    while (f >> col) cols.push_back(col);
    if (cols.size() < 7 || mine.count(cols[6]) == 0) continue;
    if (std::strtoul(cols[3].c_str(), nullptr, 16) & 0x10000) {
      listening.push_back(cols.size() > 7 ? cols[7] : "(unnamed)");
    }
  }
  REQUIRE(listening.size() == 1);
  CHECK(listening[0] == srv.phony_path());
}

TEST_CASE("security: hotwrap writes nothing outside the socket directory and /tmp") {
  TempDir cwd, tmpdir, home;
  std::string here = std::filesystem::current_path().string();
  REQUIRE(::chdir(cwd.path().c_str()) == 0);
  std::unique_ptr<Server> srv;
  try {
    srv = std::make_unique<Server>(
        std::vector<std::string>{"sh", "-c",
                                 "read m; case $m in fail) exit 3;; slow) exec sleep 30;; esac; "
                                 "echo ok"},
        EnvList{{"TMPDIR", tmpdir.path()}, {"HOME", home.path()}});
  } catch (...) {
    REQUIRE(::chdir(here.c_str()) == 0);
    throw;
  }
  REQUIRE(::chdir(here.c_str()) == 0);
  Conn c = srv->connect();
  CHECK(c.call({.body = "ok\n"}).status == 200);
  CHECK(c.call({.body = "fail\n"}).status == 502);
  CHECK(c.call({.headers = {{"Fn-Deadline", deadline_after(600ms)}}, .body = "slow\n"}).status ==
        504);
  CHECK(c.call({.body = std::string(3 << 20, 'z')}).status == 200);
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(srv->dir())) {
    names.insert(e.path().filename().string());
  }
  CHECK(names == std::set<std::string>{"lsnr.sock", "phonylsnr.sock"});
  srv->signal(SIGTERM);
  check_exit_0(*srv, 5000ms);
  for (const TempDir* d : {&cwd, &tmpdir, &home}) {
    CHECK_MESSAGE(std::filesystem::is_empty(d->path()), d->path() << " is not empty");
  }
  CHECK(std::filesystem::is_empty(srv->dir()));
}
