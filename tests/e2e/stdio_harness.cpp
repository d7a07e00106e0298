#include "stdio_harness.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <llhttp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>

extern char** environ;

namespace stdio_e2e {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what);
}

std::string errno_text(const char* call, int err) {
  return std::string(call) + ": " + std::strerror(err);
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Parses one HTTP/1.1 response from the start of `in`; consumed == 0 while it is incomplete.
struct ResponseParse {
  Proc::HttpResponse r;
  size_t consumed = 0;
  std::string error;
  std::string field;
  bool last_was_value = false;
};

int on_header_field(llhttp_t* p, const char* at, size_t n) {
  auto* s = static_cast<ResponseParse*>(p->data);
  if (s->last_was_value || s->r.headers.empty()) {
    s->r.headers.emplace_back();
    s->last_was_value = false;
  }
  s->r.headers.back().first.append(at, n);
  return 0;
}
int on_header_value(llhttp_t* p, const char* at, size_t n) {
  auto* s = static_cast<ResponseParse*>(p->data);
  s->last_was_value = true;
  s->r.headers.back().second.append(at, n);
  return 0;
}
int on_body(llhttp_t* p, const char* at, size_t n) {
  static_cast<ResponseParse*>(p->data)->r.body.append(at, n);
  return 0;
}
int on_message_complete(llhttp_t*) {
  return HPE_PAUSED;
}

ResponseParse parse_response(std::string_view in) {
  ResponseParse s;
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
  llhttp_t p;
  llhttp_init(&p, HTTP_RESPONSE, &settings);
  p.data = &s;
  llhttp_errno_t err = llhttp_execute(&p, in.data(), in.size());
  if (err == HPE_PAUSED) {
    s.consumed = static_cast<size_t>(llhttp_get_error_pos(&p) - in.data());
    s.r.status = p.status_code;
    s.r.chunked = (p.flags & F_CHUNKED) != 0;
  } else if (err != HPE_OK) {
    s.error = std::string(llhttp_errno_name(err)) + ": " + llhttp_get_error_reason(&p);
  }
  return s;
}

}  // namespace

std::string deadline_in(Ms from_now, bool whole) {
  auto t = WallClock::now() + from_now;
  auto ms = std::chrono::duration_cast<Ms>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  long frac = static_cast<long>(ms % 1000);
  if (whole && frac != 0) {
    ++secs;
    frac = 0;
  }
  tm utc{};
  ::gmtime_r(&secs, &utc);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string out = buf;
  if (!whole) {
    char f[8];
    std::snprintf(f, sizeof f, ".%03ld", frac);
    out += f;
  }
  return out + "Z";
}

Proc::Proc(Options opts) {
  // A write to the stdin of a hotwrap that has exited must be an EPIPE, not the suite's end.
  ::signal(SIGPIPE, SIG_IGN);
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  std::string terminal_path;
  if (opts.in == Options::Stdin::Pipe && ::pipe2(in_pipe, O_CLOEXEC) != 0) {
    fail(errno_text("pipe2", errno));
  }
  if (opts.in == Options::Stdin::Terminal) {
    terminal_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (terminal_ < 0 || ::grantpt(terminal_) != 0 || ::unlockpt(terminal_) != 0) {
      fail(errno_text("posix_openpt", errno));
    }
    terminal_path = ::ptsname(terminal_);
  }
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    fail(errno_text("pipe2", errno));
  }

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("FN_") || kv.starts_with("HOTWRAP_")) continue;
    env_strings.emplace_back(kv);
  }
  for (const auto& [n, v] : opts.env) env_strings.push_back(n + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings{hotwrap_bin()};
  for (const auto& a : opts.argv) argv_strings.push_back(a);
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  switch (opts.in) {
    case Options::Stdin::Pipe: posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0); break;
    case Options::Stdin::DevNull:
      posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
      break;
    case Options::Stdin::File:
      posix_spawn_file_actions_addopen(&fa, 0, opts.stdin_file.c_str(), O_RDONLY, 0);
      break;
    case Options::Stdin::Terminal:
      // Opened by the leader of a new session without O_NOCTTY: it becomes its terminal, with
      // hotwrap's process group in the foreground.
      posix_spawn_file_actions_addopen(&fa, 0, terminal_path.c_str(), O_RDWR, 0);
      break;
  }
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, opts.stderr_is_stdout ? out_pipe[1] : err_pipe[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s :
       {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU}) {
    sigaddset(&defaults, s);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (opts.in == Options::Stdin::Terminal) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);
  int rc = ::posix_spawn(&pid_, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close_fd(in_pipe[0]);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  in_ = in_pipe[1];
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  if (rc != 0) {
    pid_ = -1;
    fail(errno_text("posix_spawn hotwrap", rc));
  }
  for (int fd : {in_, out_fd_, err_fd_}) {
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) fail(errno_text("pidfd_open", errno));
}

Proc::~Proc() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  for (int* fd : {&in_, &out_fd_, &err_fd_, &pidfd_, &terminal_}) close_fd(*fd);
}

void Proc::reap_if_exited() {
  if (status_) return;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = st;
}

void Proc::pump(Ms limit) {
  pollfd pfds[3];
  nfds_t n = 0;
  if (out_fd_ >= 0) pfds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) pfds[n++] = {err_fd_, POLLIN, 0};
  if (!status_) pfds[n++] = {pidfd_, POLLIN, 0};
  if (n == 0) return;
  int rc = ::poll(pfds, n, static_cast<int>(limit.count()));
  if (rc < 0 && errno != EINTR) fail(errno_text("poll", errno));
  for (nfds_t i = 0; i < n && rc > 0; ++i) {
    if (pfds[i].revents == 0) continue;
    if (pfds[i].fd == pidfd_) {
      reap_if_exited();
      continue;
    }
    char buf[65536];
    ssize_t got = ::read(pfds[i].fd, buf, sizeof buf);
    bool is_out = pfds[i].fd == out_fd_;
    if (got > 0) {
      (is_out ? out_ : err_).append(buf, static_cast<size_t>(got));
    } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
      close_fd(is_out ? out_fd_ : err_fd_);
    }
  }
}

bool Proc::write(std::string_view bytes, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    if (in_ < 0) return false;
    ssize_t n = ::write(in_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;  // EPIPE: hotwrap is gone
    if (Clock::now() >= deadline) return false;
    // Wait for room, reading hotwrap's output meanwhile so that neither side can block.
    pollfd pfds[3] = {{in_, POLLOUT, 0}, {out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    int rc = ::poll(pfds, 3, remaining_ms(deadline));
    if (rc < 0 && errno != EINTR) return false;
    if ((pfds[1].revents | pfds[2].revents) != 0) pump(Ms(0));
  }
  return true;
}

void Proc::close_stdin() {
  close_fd(in_);
}

std::string Proc::pipe_name(int stdfd) const {
  int fd = stdfd == 0 ? in_ : stdfd == 1 ? out_fd_ : err_fd_;
  struct stat st{};
  if (fd < 0 || ::fstat(fd, &st) != 0) return "?";
  return "pipe:[" + std::to_string(st.st_ino) + "]";
}

bool Proc::terminal_write(std::string_view bytes) {
  return terminal_ >= 0 &&
         ::write(terminal_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
}

bool Proc::wait_for(const std::function<bool()>& pred, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  while (!pred()) {
    bool nothing_left = out_fd_ < 0 && err_fd_ < 0 && status_.has_value();
    if (nothing_left || Clock::now() >= deadline) return pred();
    pump(Ms(remaining_ms(deadline)));
  }
  return true;
}

bool Proc::wait_out(std::string_view needle, Ms timeout) {
  return wait_for([&] { return out_.find(needle) != std::string::npos; }, timeout);
}

bool Proc::wait_err(std::string_view needle, Ms timeout) {
  return wait_for([&] { return err_.find(needle) != std::string::npos; }, timeout);
}

std::optional<std::string> Proc::next_line(Ms timeout) {
  if (!wait_for([&] { return out_.find('\n', read_pos_) != std::string::npos; }, timeout)) {
    return std::nullopt;
  }
  size_t nl = out_.find('\n', read_pos_);
  std::string line = out_.substr(read_pos_, nl - read_pos_);
  read_pos_ = nl + 1;
  return line;
}

std::optional<Proc::HttpResponse> Proc::next_http_response(Ms timeout) {
  std::string error;
  ResponseParse parsed;
  bool done = wait_for(
      [&] {
        parsed = parse_response(unread());
        if (!parsed.error.empty()) error = parsed.error;
        return parsed.consumed > 0 || !error.empty();
      },
      timeout);
  if (!done || !error.empty()) {
    MESSAGE("no complete HTTP response on stdout (" << (error.empty() ? "timed out" : error)
                                                    << "): " << printable(unread()));
    return std::nullopt;
  }
  read_pos_ += parsed.consumed;
  return parsed.r;
}

std::optional<std::string> Proc::HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (e2e::iequals(n, name)) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<int> Proc::wait_exit(Ms timeout) {
  // Exited, and both of its output pipes at EOF: all it wrote is in.
  wait_for([&] { return status_.has_value() && out_fd_ < 0 && err_fd_ < 0; }, timeout);
  return status_;
}

void Proc::signal(int sig) const {
  if (!status_) ::kill(pid_, sig);
}

std::vector<pid_t> Proc::descendants() const {
  return e2e::proc_descendants(pid_);
}

std::vector<pid_t> Proc::zombies() const {
  std::vector<pid_t> out;
  for (pid_t p : e2e::proc_children(pid_)) {
    if (e2e::proc_state(p) == 'Z') out.push_back(p);
  }
  return out;
}

int Proc::fd_count() const {
  return e2e::proc_fd_count(pid_);
}

void check_exit(Proc& p, int code, Ms timeout) {
  auto st = p.wait_exit(timeout);
  REQUIRE_MESSAGE(st.has_value(), "hotwrap still running; stderr: " << printable(p.err()));
  INFO("hotwrap " << describe_status(st) << "; stderr: " << printable(p.err()));
  CHECK(exit_code(st) == code);
}

}  // namespace stdio_e2e
