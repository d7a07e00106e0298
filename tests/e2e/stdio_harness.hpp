// End-to-end harness for the stdio formats (default, json, http): runs the real hotwrap binary
// with pipes on its stdin, stdout and stderr, the way the old Fn agent attached to a container.
//
// Single-threaded: every wait pumps hotwrap's stdout and stderr into buffers with poll() (so a
// chatty hotwrap never blocks on a full pipe) and is bounded; hotwrap's exit is a pidfd. No sleeps.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace stdio_e2e {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

using e2e::hotwrap_bin;

// `from_now` ahead as RFC 3339 UTC with milliseconds, as the default format's FN_DEADLINE
// (whole = true: whole seconds rounded up, as the hot formats' agent sends them).
std::string deadline_in(Ms from_now, bool whole = false);

struct Options {
  std::vector<std::string> argv{};  // after "hotwrap": options, then the command
  // Added to the runner's environment, from which every FN_* and HOTWRAP_* is removed first.
  std::vector<std::pair<std::string, std::string>> env{};
  enum class Stdin { Pipe, DevNull, File, Terminal } in = Stdin::Pipe;
  std::string stdin_file{};  // Stdin::File: this file, as `hotwrap < file`
  // Terminal: stdin is a new pseudo-terminal, the controlling terminal of a new session that
  // hotwrap leads (as `docker run -it` sets it up); write to it with terminal_write().

  bool stderr_is_stdout = false;  // fd 2 is fd 1's pipe (one open file description, as `2>&1`)
};

// One hotwrap process.
class Proc {
 public:
  explicit Proc(Options opts);
  ~Proc();  // SIGKILL to hotwrap and its process group if still running
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  pid_t pid() const { return pid_; }

  // Writes all of `bytes` to hotwrap's stdin within `timeout`; false if it could not.
  bool write(std::string_view bytes, Ms timeout = 5000ms);
  void close_stdin();
  bool terminal_write(std::string_view bytes);

  // Everything hotwrap wrote so far (updated by every wait).
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  // "pipe:[inode]" of the pipe on hotwrap's fd 0, 1 or 2, as /proc/<pid>/fd shows it.
  std::string pipe_name(int stdfd) const;

  // Pumps until `pred()` holds or `timeout` passes; returns the last value of pred().
  bool wait_for(const std::function<bool()>& pred, Ms timeout);
  bool wait_out(std::string_view needle, Ms timeout);
  bool wait_err(std::string_view needle, Ms timeout);

  // stdout consumed in order: the next line (without '\n'), or nullopt at the limit / at EOF.
  std::optional<std::string> next_line(Ms timeout = 10000ms);
  // The next HTTP/1.1 response on stdout.
  struct HttpResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool chunked = false;
    std::optional<std::string> header(std::string_view name) const;
  };
  std::optional<HttpResponse> next_http_response(Ms timeout = 10000ms);
  // stdout not consumed yet by next_line / next_http_response.
  std::string_view unread() const { return std::string_view(out_).substr(read_pos_); }

  // hotwrap's raw wait status once it exited, with all of its output read; nullopt at the limit.
  std::optional<int> wait_exit(Ms timeout = 10000ms);
  bool exited() const { return status_.has_value(); }
  void signal(int sig) const;

  // Processes below hotwrap (children, grandchildren) and the zombies among its children.
  std::vector<pid_t> descendants() const;
  std::vector<pid_t> zombies() const;
  int fd_count() const;

 private:
  // One poll round of at most `limit`; returns false once there is nothing left to wait on.
  void pump(Ms limit);
  void reap_if_exited();

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int in_ = -1;  // our end of hotwrap's stdin (pipe), or the terminal's master side
  int out_fd_ = -1;
  int err_fd_ = -1;
  int terminal_ = -1;  // master side when stdin is a terminal
  std::optional<int> status_;
  std::string out_;
  std::string err_;
  size_t read_pos_ = 0;
};

// Exit code / signal of a raw wait status, and a description for messages.
using e2e::describe_status;
using e2e::exit_code;
using e2e::term_signal;

// Escapes control and non-ASCII bytes for failure messages.
using e2e::printable;

// Checks (a test failure otherwise) that hotwrap exits with `code` within `timeout`.
void check_exit(Proc& p, int code, Ms timeout = 10000ms);

// True while `pid` exists and is not a zombie.
inline bool alive(pid_t pid) {
  return e2e::proc_alive(pid);
}

}  // namespace stdio_e2e
