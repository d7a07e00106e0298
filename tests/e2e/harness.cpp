#include "harness.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
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
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace e2e {

namespace {

std::string errno_text(const char* call, int err) {
  return std::string(call) + ": " + std::strerror(err);
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what);
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

// poll() one descriptor, retrying on EINTR, until `deadline`. Returns revents (0 on timeout).
short poll_one(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd pfd{fd, events, 0};
    int n = ::poll(&pfd, 1, remaining_ms(deadline));
    if (n > 0) return pfd.revents;
    if (n == 0) return 0;
    if (errno != EINTR) fail(errno_text("poll", errno));
  }
}

std::string read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Fields of /proc/<pid>/stat after the command name: state is [0], ppid is [1].
std::optional<std::vector<std::string>> stat_fields(pid_t pid) {
  std::string s = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = s.rfind(')');
  if (s.empty() || close == std::string::npos) return std::nullopt;
  std::istringstream rest(s.substr(close + 1));
  std::vector<std::string> fields;
  std::string f;
  while (rest >> f) fields.push_back(f);
  if (fields.size() < 2) return std::nullopt;
  return fields;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return pids;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && v > 0) pids.push_back(static_cast<pid_t>(v));
  }
  ::closedir(d);
  return pids;
}

}  // namespace

std::string hotwrap_bin() {
  if (const char* p = std::getenv("HOTWRAP_BIN"); p != nullptr && *p != '\0') return p;
#ifdef HOTWRAP_DEFAULT_BIN
  return HOTWRAP_DEFAULT_BIN;
#else
  fail("HOTWRAP_BIN is not set: point it at the built hotwrap binary");
#endif
}

bool wait_until(const std::function<bool()>& pred, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(5ms);  // bounded polling: these conditions have no event
  }
}

std::string rfc3339(WallClock::time_point tp, int offset_minutes) {
  std::time_t t = WallClock::to_time_t(tp) + static_cast<std::time_t>(offset_minutes) * 60;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (offset_minutes == 0) {
    out += 'Z';
  } else {
    int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    char off[16];
    std::snprintf(off, sizeof off, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
    out += off;
  }
  return out;
}

Deadline deadline_in(Ms from_now, int offset_minutes) {
  auto at = std::chrono::ceil<std::chrono::seconds>(WallClock::now() + from_now);
  auto tp =
      WallClock::time_point(std::chrono::duration_cast<WallClock::duration>(at.time_since_epoch()));
  return Deadline{tp, rfc3339(tp, offset_minutes)};
}

std::string next_call_id() {
  static std::atomic<unsigned> counter{0};
  char buf[64];
  std::snprintf(buf, sizeof buf, "01E2E%07dC%06u", static_cast<int>(::getpid()), ++counter);
  return buf;
}

std::optional<char> proc_state(pid_t pid) {
  auto f = stat_fields(pid);
  if (!f || (*f)[0].empty()) return std::nullopt;
  return (*f)[0][0];
}

std::optional<pid_t> proc_ppid(pid_t pid) {
  auto f = stat_fields(pid);
  if (!f) return std::nullopt;
  return static_cast<pid_t>(std::stol((*f)[1]));
}

bool proc_alive(pid_t pid) {
  auto s = proc_state(pid);
  return s.has_value() && *s != 'Z' && *s != 'X';
}

bool all_gone(const std::vector<pid_t>& pids, Ms timeout) {
  return wait_until(
      [&] {
        for (pid_t p : pids) {
          if (proc_alive(p)) return false;
        }
        return true;
      },
      timeout);
}

std::vector<pid_t> proc_children(pid_t parent) {
  std::vector<pid_t> out;
  for (pid_t p : all_pids()) {
    if (proc_ppid(p) == parent) out.push_back(p);
  }
  return out;
}

std::vector<pid_t> proc_descendants(pid_t root) {
  std::multimap<pid_t, pid_t> by_parent;
  for (pid_t p : all_pids()) {
    if (auto pp = proc_ppid(p)) by_parent.emplace(*pp, p);
  }
  std::vector<pid_t> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    pid_t cur = todo.back();
    todo.pop_back();
    auto [b, e] = by_parent.equal_range(cur);
    for (auto it = b; it != e; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return out;
}

std::optional<int> exit_code(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return std::nullopt;
}

std::optional<int> term_signal(int st) {
  if (WIFSIGNALED(st)) return WTERMSIG(st);
  return std::nullopt;
}

std::string describe_status(int st) {
  if (WIFEXITED(st)) return "exited " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return std::string("killed by ") + ::strsignal(WTERMSIG(st));
  return "status " + std::to_string(st);
}

std::optional<int> exit_code(const std::optional<int>& st) {
  return st ? exit_code(*st) : std::nullopt;
}

std::string describe_status(const std::optional<int>& st) {
  return st ? describe_status(*st) : "still running";
}

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max) {
      out += "...(" + std::to_string(s.size()) + " bytes)";
      break;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      out.emplace_back(text.substr(start));
      break;
    }
    out.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lx = static_cast<unsigned char>(x);
           auto ly = static_cast<unsigned char>(y);
           return std::tolower(lx) == std::tolower(ly);
         });
}

int try_connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

// ---------------------------------------------------------------------------------------------
// TempDir

TempDir::TempDir() {
  char tmpl[] = "/tmp/hwe2e.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fail(errno_text("mkdtemp", errno));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write_file(const std::string& name, std::string_view content,
                                unsigned mode) const {
  std::string p = path_ + "/" + name;
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) fail("cannot write " + p);
  }
  if (::chmod(p.c_str(), static_cast<mode_t>(mode)) != 0) fail(errno_text("chmod", errno));
  return p;
}

// ---------------------------------------------------------------------------------------------
// Server

Server::Server(std::vector<std::string> argv, EnvList env) {
  Options o;
  o.argv = std::move(argv);
  o.env = std::move(env);
  start(std::move(o));
}

Server::Server(Options opts) {
  start(std::move(opts));
}

void Server::start(Options opts) {
  char tmpl[] = "/tmp/hwe2e.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fail(errno_text("mkdtemp", errno));
  dir_ = tmpl;

  int ino = -1;
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  auto close_fd = [](int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  };
  try {
    if (opts.before_spawn) opts.before_spawn(dir_);

    // The agent's handshake: watch the directory before the container starts.
    ino = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ino < 0) fail(errno_text("inotify_init1", errno));
    if (::inotify_add_watch(ino, dir_.c_str(), IN_CREATE | IN_MOVED_TO) < 0)
      fail(errno_text("inotify_add_watch", errno));

    // Environment: ours without FN_* / HOTWRAP_* and the variables that choose a contract (so
    // the runner's settings never leak in), then the defaults, then the test's own.
    std::vector<std::pair<std::string, std::string>> env;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view kv(*e);
      auto eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      std::string name(kv.substr(0, eq));
      if (name.starts_with("FN_") || name.starts_with("HOTWRAP_") || name == "PORT" ||
          name == "K_SERVICE" || name == "fprocess" || name == "function_process" ||
          name == "AWS_LAMBDA_RUNTIME_API") {
        continue;
      }
      env.emplace_back(name, std::string(kv.substr(eq + 1)));
    }
    auto set = [&env](const std::string& name, const std::string& value) {
      for (auto& [n, v] : env) {
        if (n == name) {
          v = value;
          return;
        }
      }
      env.emplace_back(name, value);
    };
    if (opts.http_stream_defaults) {
      set("FN_FORMAT", "http-stream");
      set("FN_LISTENER", "unix:" + socket_path());
    }
    for (const auto& [n, v] : opts.env) set(n, v);
    std::erase_if(env, [&opts](const auto& kv) {
      return std::find(opts.unset.begin(), opts.unset.end(), kv.first) != opts.unset.end();
    });

    std::vector<std::string> env_strings;
    env_strings.reserve(env.size());
    for (const auto& [n, v] : env) env_strings.push_back(n + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    std::string bin = hotwrap_bin();
    std::vector<std::string> argv_strings = opts.wrapper;
    argv_strings.push_back(bin);
    for (const auto& a : opts.argv) argv_strings.push_back(a);
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
      fail(errno_text("pipe2", errno));

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
                                     0);  // the agent attaches no stdin
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    // Whatever the test runner inherited (CI job pipes, ...) must not reach hotwrap: it would
    // skew the fd counts and leak into the commands.
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM})
      sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr,
                             static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
    auto spawned_at = Clock::now();
    int rc = ::posix_spawnp(&pid_, argv_strings[0].c_str(), &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      pid_ = -1;
      fail(errno_text(("posix_spawn " + argv_strings[0]).c_str(), rc));
    }
    close_fd(out_pipe[1]);
    close_fd(err_pipe[1]);

    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) fail(errno_text("pidfd_open", errno));

    stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (stop_fd_ < 0) fail(errno_text("eventfd", errno));
    int o = out_pipe[0];
    int e = err_pipe[0];
    out_pipe[0] = -1;
    err_pipe[0] = -1;
    reader_ = std::thread([this, o, e] { reader_loop(o, e, stop_fd_); });

    if (opts.wait_ready) {
      auto deadline = spawned_at + opts.ready_timeout;
      bool ready = false;
      while (!ready) {
        pollfd pfds[2] = {{ino, POLLIN, 0}, {pidfd_, POLLIN, 0}};
        int n = ::poll(pfds, 2, remaining_ms(deadline));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(errno_text("poll", errno));
        if (n == 0) {
          fail("hotwrap did not create " + socket_path() + " within " +
               std::to_string(opts.ready_timeout.count()) + " ms; stderr:\n" + stderr_text());
        }
        if ((pfds[0].revents & POLLIN) != 0) {
          alignas(inotify_event) char buf[4096];
          ssize_t len = ::read(ino, buf, sizeof buf);
          for (ssize_t off = 0; len > 0 && off < len;) {
            inotify_event ev{};
            std::memcpy(&ev, buf + off, sizeof ev);
            std::string name = ev.len > 0 ? std::string(buf + off + sizeof ev) : std::string();
            if (name == "lsnr.sock") ready = true;
            off += static_cast<ssize_t>(sizeof ev + ev.len);
          }
        }
        if (!ready && (pfds[1].revents & POLLIN) != 0) {
          auto st = wait_exit(1000ms);
          std::unique_lock lk(mu_);
          cv_.wait_for(lk, 1000ms, [this] { return reader_done_; });
          fail("hotwrap exited before it was ready (" + (st ? describe_status(*st) : "?") +
               "); stderr:\n" + err_);
        }
      }
      ready_time_ = std::chrono::duration_cast<Ms>(Clock::now() - spawned_at);
    }
    close_fd(ino);
  } catch (...) {
    close_fd(ino);
    close_fd(out_pipe[0]);
    close_fd(out_pipe[1]);
    close_fd(err_pipe[0]);
    close_fd(err_pipe[1]);
    kill_tree();
    stop_reader();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

Server::~Server() {
  // A hotwrap that cannot be stopped would leave its processes to the tests that follow.
  try {
    kill_tree();
    stop_reader();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "e2e: cannot stop hotwrap %d: %s\n", pid_, e.what());
    std::abort();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Server::kill_tree() {
  if (pid_ <= 0) return;
  if (!status_) {
    // Collect the tree first: once hotwrap is gone its children are re-parented elsewhere.
    auto tree = descendants();
    ::kill(pid_, SIGKILL);
    for (pid_t p : tree) ::kill(p, SIGKILL);
    wait_exit(10000ms);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
}

void Server::stop_reader() {
  if (!reader_.joinable()) {
    if (stop_fd_ >= 0) ::close(stop_fd_);
    stop_fd_ = -1;
    return;
  }
  {
    // Give the reader a moment to drain what hotwrap wrote before it died.
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, 1000ms, [this] { return reader_done_; });
  }
  std::uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) < 0) { /* the reader also stops on EOF */
  }
  reader_.join();
  ::close(stop_fd_);
  stop_fd_ = -1;
}

void Server::reader_loop(int out_fd, int err_fd, int stop_fd) {
  int fds[2] = {out_fd, err_fd};
  std::string* bufs[2] = {&out_, &err_};
  char buf[65536];
  for (;;) {
    pollfd pfds[3] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (fds[0] < 0 && fds[1] < 0) break;
    int n = ::poll(pfds, 3, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if ((pfds[2].revents & POLLIN) != 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t r = ::read(fds[i], buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      std::lock_guard lk(mu_);
      if (r <= 0) {
        ::close(fds[i]);
        fds[i] = -1;
      } else {
        bufs[i]->append(buf, static_cast<std::size_t>(r));
      }
      cv_.notify_all();
    }
  }
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
  std::lock_guard lk(mu_);
  reader_done_ = true;
  cv_.notify_all();
}

bool Server::wait_output_closed(Ms timeout) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [this] { return reader_done_; });
}

RunResult run_to_exit(Server::Options opts, Ms timeout) {
  opts.wait_ready = false;
  Server srv(std::move(opts));
  RunResult r;
  r.status = srv.wait_exit(timeout);
  if (r.status) srv.wait_output_closed(2000ms);
  r.out = srv.stdout_text();
  r.err = srv.stderr_text();
  return r;
}

RunResult run_to_exit(std::vector<std::string> argv, EnvList env, Ms timeout) {
  Server::Options o;
  o.argv = std::move(argv);
  o.env = std::move(env);
  return run_to_exit(std::move(o), timeout);
}

Conn Server::connect() const {
  return Conn(socket_path());
}

void Server::signal(int sig) const {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> Server::wait_exit(Ms timeout) {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
  auto deadline = Clock::now() + timeout;
  if (pidfd_ >= 0 && (poll_one(pidfd_, POLLIN, deadline) & POLLIN) == 0) return std::nullopt;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, pidfd_ >= 0 ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) status_ = st;
  return status_;
}

std::string Server::stdout_text() const {
  std::lock_guard lk(mu_);
  return out_;
}

std::string Server::stderr_text() const {
  std::lock_guard lk(mu_);
  return err_;
}

bool Server::wait_text(const std::string& which, std::string_view needle, Ms timeout) const {
  const std::string& buf = which == "stdout" ? out_ : err_;
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] {
    return buf.find(needle) != std::string::npos || reader_done_;
  }) && buf.find(needle) != std::string::npos;
}

bool Server::wait_stdout(std::string_view needle, Ms timeout) const {
  return wait_text("stdout", needle, timeout);
}
bool Server::wait_stderr(std::string_view needle, Ms timeout) const {
  return wait_text("stderr", needle, timeout);
}

int proc_fd_count(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
  }
  ::closedir(d);
  return n;
}

int Server::fd_count() const {
  return proc_fd_count(pid_);
}

std::vector<pid_t> Server::children() const {
  return status_ ? std::vector<pid_t>{} : proc_children(pid_);
}
std::vector<pid_t> Server::descendants() const {
  return status_ ? std::vector<pid_t>{} : proc_descendants(pid_);
}

std::vector<pid_t> Server::zombies() const {
  std::vector<pid_t> out;
  for (pid_t p : children()) {
    if (proc_state(p) == 'Z') out.push_back(p);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Request / Response

std::string Request::call_id() const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, "Fn-Call-Id")) return v;
  }
  if (generated_id_.empty()) generated_id_ = next_call_id();
  return generated_id_;
}

std::string Request::serialize() const {
  std::string out = method + " " + path + " HTTP/1.1\r\n";
  auto given = [this](std::string_view name) {
    return std::any_of(headers.begin(), headers.end(),
                       [name](const auto& h) { return iequals(h.first, name); }) ||
           std::any_of(omit.begin(), omit.end(),
                       [name](const auto& o) { return iequals(o, name); });
  };
  auto add = [&out](std::string_view n, std::string_view v) {
    out.append(n);
    out.append(": ");
    out.append(v);
    out.append("\r\n");
  };
  if (default_headers) {
    if (!given("Host")) add("Host", "localhost");
    if (!given("User-Agent")) add("User-Agent", "Go-http-client/1.1");
  }
  if (framing == Framing::Chunked) add("Transfer-Encoding", "chunked");
  if (framing == Framing::ContentLength) add("Content-Length", std::to_string(body.size()));
  if (default_headers) {
    if (!given("Fn-Call-Id")) add("Fn-Call-Id", call_id());
    if (!given("Fn-Deadline")) add("Fn-Deadline", deadline_in(30000ms).header);
  }
  for (const auto& [n, v] : headers) add(n, v);
  if (default_headers && !given("Accept-Encoding")) add("Accept-Encoding", "gzip");
  out += "\r\n";

  switch (framing) {
    case Framing::Chunked: {
      std::size_t step = chunk_size == 0 ? body.size() : chunk_size;
      for (std::size_t off = 0; off < body.size(); off += step) {
        std::size_t n = std::min(step, body.size() - off);
        char hex[32];
        std::snprintf(hex, sizeof hex, "%zx\r\n", n);
        out += hex;
        out.append(body, off, n);
        out += "\r\n";
      }
      out += "0\r\n\r\n";
      break;
    }
    case Framing::ContentLength:
    case Framing::None: out += body; break;
  }
  return out;
}

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return std::nullopt;
}

std::vector<std::string> Response::header_values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) out.push_back(v);
  }
  return out;
}

std::ostream& operator<<(std::ostream& os, const Response& r) {
  os << "HTTP " << r.status << (r.complete ? " complete" : " INCOMPLETE")
     << (r.chunked ? " chunked" : "") << (r.closed ? " closed" : "")
     << (r.timed_out ? " TIMED-OUT" : "") << (r.request_sent ? "" : " request-not-fully-sent");
  if (!r.error.empty()) os << " parse-error=" << r.error;
  for (const auto& [n, v] : r.headers) os << "\n  " << n << ": " << printable(v, 200);
  os << "\n  body (" << r.body.size() << " bytes): " << printable(r.body, 300);
  return os;
}

// ---------------------------------------------------------------------------------------------
// Conn

Conn::Conn(const std::string& socket_path) : p_(std::make_unique<Parser>()) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail(errno_text("socket", errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) fail("socket path too long: " + socket_path);
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    fail(errno_text(("connect " + socket_path).c_str(), err));
  }
  init_parser();
}

Conn::Conn(int fd, std::string_view) : fd_(fd), p_(std::make_unique<Parser>()) {
  init_parser();
}

Conn Conn::tcp(uint16_t port, const std::string& host) {
  bool v6 = host.find(':') != std::string::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(errno_text("socket", errno));
  int rc;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    ::inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    fail(errno_text(("connect " + host + ":" + std::to_string(port)).c_str(), err));
  }
  return Conn(fd, host);
}

uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    fail(errno_text("free_tcp_port", errno));
  }
  uint16_t port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool wait_tcp_ready(uint16_t port, Ms timeout) {
  return wait_until(
      [port] {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
      },
      timeout);
}

ClientResult run_client(const std::vector<std::string>& argv_strings, Ms timeout,
                        std::string_view input) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    fail(errno_text("pipe2", errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  std::vector<char*> argv;
  for (const std::string& a : argv_strings) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ClientResult r;
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    r.err = errno_text(("posix_spawn " + argv_strings[0]).c_str(), rc);
    return r;
  }
  // Small inputs only: written before reading, then stdin closes.
  if (!input.empty()) {
    ssize_t w = ::write(in_pipe[1], input.data(), input.size());
    (void)w;
  }
  ::close(in_pipe[1]);
  auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
    if (left <= 0) break;
    if (::poll(fds, 2, static_cast<int>(left)) <= 0) continue;
    for (pollfd& p : fds) {
      if (p.fd < 0 || p.revents == 0) continue;
      char buf[65536];
      ssize_t n = ::read(p.fd, buf, sizeof buf);
      if (n > 0) {
        (p.fd == out_pipe[0] ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else {
        p.fd = -1;
        --open_fds;
      }
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int st = 0;
  if (open_fds > 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
    return r;
  }
  ::waitpid(pid, &st, 0);
  r.status = st;
  return r;
}

void Conn::init_parser() {
  int fl = ::fcntl(fd_, F_GETFL);
  ::fcntl(fd_, F_SETFL, fl | O_NONBLOCK);

  llhttp_settings_init(&p_->settings);
  p_->settings.on_message_begin = &Conn::on_message_begin;
  p_->settings.on_header_field = &Conn::on_header_field;
  p_->settings.on_header_value = &Conn::on_header_value;
  p_->settings.on_headers_complete = &Conn::on_headers_complete;
  p_->settings.on_body = &Conn::on_body;
  p_->settings.on_message_complete = &Conn::on_message_complete;
  llhttp_init(&p_->parser, HTTP_RESPONSE, &p_->settings);
  p_->parser.data = p_.get();
}

Conn::Conn(Conn&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      eof_(other.eof_),
      inbuf_(std::move(other.inbuf_)),
      p_(std::move(other.p_)) {}

Conn::~Conn() {
  close();
}

void Conn::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Conn::send_raw(std::string_view bytes, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (poll_one(fd_, POLLOUT, deadline) == 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool Conn::send_request(const Request& req, Ms timeout) {
  return send_raw(req.serialize(), timeout);
}

Response Conn::call(const Request& req, Ms timeout) {
  return exchange(req.serialize(), timeout);
}

Response Conn::read_response(Ms timeout) {
  return exchange({}, timeout);
}

int Conn::on_message_begin(llhttp_t* p) {
  auto* self = static_cast<Parser*>(p->data);
  self->last_was_value = false;
  return 0;
}

int Conn::on_header_field(llhttp_t* p, const char* at, std::size_t len) {
  auto* self = static_cast<Parser*>(p->data);
  auto& hs = self->cur->headers;
  if (hs.empty() || self->last_was_value) hs.emplace_back();
  hs.back().first.append(at, len);
  self->last_was_value = false;
  return 0;
}

int Conn::on_header_value(llhttp_t* p, const char* at, std::size_t len) {
  auto* self = static_cast<Parser*>(p->data);
  auto& hs = self->cur->headers;
  if (hs.empty()) hs.emplace_back();
  hs.back().second.append(at, len);
  self->last_was_value = true;
  return 0;
}

int Conn::on_headers_complete(llhttp_t* p) {
  auto* self = static_cast<Parser*>(p->data);
  self->cur->status = p->status_code;
  self->cur->headers_at = Clock::now();
  for (const auto& v : self->cur->header_values("Transfer-Encoding")) {
    std::string lower;
    for (char c : v) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("chunked") != std::string::npos) self->cur->chunked = true;
  }
  return 0;
}

int Conn::on_body(llhttp_t* p, const char* at, std::size_t len) {
  auto* self = static_cast<Parser*>(p->data);
  if (self->cur->body.empty()) self->cur->first_body_at = Clock::now();
  self->cur->body.append(at, len);
  return 0;
}

int Conn::on_message_complete(llhttp_t* p) {
  auto* self = static_cast<Parser*>(p->data);
  self->cur->complete = true;
  // Stop after one message: the bytes after it belong to the next response.
  return HPE_PAUSED;
}

void Conn::feed(Response& r) {
  if (inbuf_.empty() || r.complete || p_->dead) return;
  p_->cur = &r;
  auto err = llhttp_execute(&p_->parser, inbuf_.data(), inbuf_.size());
  if (err == HPE_OK) {
    inbuf_.clear();
  } else if (err == HPE_PAUSED) {
    auto consumed = static_cast<std::size_t>(llhttp_get_error_pos(&p_->parser) - inbuf_.data());
    llhttp_resume(&p_->parser);
    inbuf_.erase(0, consumed);
  } else {
    r.error = std::string(llhttp_errno_name(err)) + ": " + llhttp_get_error_reason(&p_->parser);
    p_->dead = true;
  }
}

void Conn::on_eof(Response& r) {
  r.closed = true;
  feed(r);
  if (r.complete || p_->dead || p_->finished) return;
  p_->finished = true;
  p_->cur = &r;
  // At EOF llhttp completes a read-until-close body, and reports a missing terminating chunk
  // or a short Content-Length body as an error: both leave r.complete false.
  auto err = llhttp_finish(&p_->parser);
  if (err != HPE_OK && err != HPE_PAUSED && r.status != 0 && r.error.empty()) {
    r.error = std::string(llhttp_errno_name(err)) + ": " + llhttp_get_error_reason(&p_->parser);
  }
}

Response Conn::exchange(std::string_view out, Ms timeout) {
  Response r;
  auto deadline = Clock::now() + timeout;
  std::size_t sent = 0;
  bool send_failed = false;
  feed(r);
  if (eof_) on_eof(r);
  char buf[65536];
  for (;;) {
    bool want_send = sent < out.size() && !send_failed;
    bool got_response = r.complete || r.closed || !r.error.empty();
    if (got_response && !want_send) break;
    if (fd_ < 0) {
      r.error = "connection closed locally";
      break;
    }
    auto events = static_cast<short>((got_response ? 0 : POLLIN) | (want_send ? POLLOUT : 0));
    short rev = poll_one(fd_, events, deadline);
    if (rev == 0) {
      r.timed_out = true;
      break;
    }
    if (want_send && (rev & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        send_failed = true;  // EPIPE/ECONNRESET: the server closed; read what it sent
      }
    }
    if (!got_response && (rev & (POLLIN | POLLHUP | POLLERR)) != 0) {
      for (;;) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
          inbuf_.append(buf, static_cast<std::size_t>(n));
          continue;
        }
        if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE))) eof_ = true;
        break;
      }
      feed(r);
      if (eof_ && !r.complete) on_eof(r);
      if (eof_ && r.complete) r.closed = true;
    }
  }
  r.request_sent = sent == out.size();
  r.completed_at = WallClock::now();
  r.done_at = Clock::now();
  return r;
}

bool Conn::wait_closed(Ms timeout) {
  auto deadline = Clock::now() + timeout;
  char buf[65536];
  while (!eof_ && fd_ >= 0) {
    if (poll_one(fd_, POLLIN, deadline) == 0) return false;
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      inbuf_.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      eof_ = true;
    }
  }
  return eof_;
}

std::vector<pid_t> wait_call_running(const Server& srv) {
  std::vector<pid_t> tree;
  bool running = wait_until(
      [&] {
        tree = srv.descendants();
        return !tree.empty();
      },
      5000ms);
  if (!running) fail("no command process appeared under hotwrap; stderr: " + srv.stderr_text());
  return tree;
}

}  // namespace e2e
