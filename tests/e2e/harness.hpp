// End-to-end harness: runs the real hotwrap binary and talks to it the way the Fn agent does
// (unix socket, HTTP/1.1, chunked request bodies, Fn-Call-Id / Fn-Deadline headers).
//
// Rules the harness keeps so that tests are deterministic on a loaded 2-core machine:
// - every wait is bounded (poll() timeouts, wait_until with a limit), never a bare sleep;
// - readiness is the agent's own handshake: inotify on the socket directory until `lsnr.sock`
//   appears;
// - hotwrap's stdout/stderr are drained by a reader thread, so a chatty server never blocks on a
//   full pipe;
// - the harness's own descriptors are all O_CLOEXEC, so they never show up in hotwrap's fd count.
#pragma once

#include <llhttp.h>

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace e2e {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;
using EnvList = std::vector<std::pair<std::string, std::string>>;

// For a test that cannot run here (a missing privilege or tool), then returns at once: prints
// "SKIPPED: <test>: <reason>" and counts it. The run ends with the number of skipped tests and
// fails when the environment has CI=true, where every test must run.
void skip_test(std::string_view reason);

// Path of the binary under test: $HOTWRAP_BIN, else the path CMake compiled in.
std::string hotwrap_bin();

// Polls `pred` every few milliseconds until it is true or `timeout` passes; for conditions that
// have no handshake (a process is gone, a file was removed). Returns the last value of `pred`.
bool wait_until(const std::function<bool()>& pred, Ms timeout);

// `tp` as RFC 3339 with whole seconds, e.g. 2026-11-23T18:33:30Z, or with a numeric offset
// (`+01:00`) when offset_minutes != 0 (the instant is the same).
std::string rfc3339(WallClock::time_point tp, int offset_minutes = 0);

// A deadline as the agent sends it: whole seconds, at least `from_now` ahead.
struct Deadline {
  WallClock::time_point at;
  std::string header;
};
Deadline deadline_in(Ms from_now, int offset_minutes = 0);

// A unique call id per process (ULID-like enough for tests).
std::string next_call_id();

// /proc helpers. State is the one-letter state from /proc/<pid>/stat; nullopt if gone.
std::optional<char> proc_state(pid_t pid);
std::optional<pid_t> proc_ppid(pid_t pid);
// True while the process exists and is not a zombie (a zombie has finished dying).
bool proc_alive(pid_t pid);
// Until none of `pids` is alive, or `timeout`; returns whether they are all gone.
bool all_gone(const std::vector<pid_t>& pids, Ms timeout);
std::vector<pid_t> proc_children(pid_t parent);
std::vector<pid_t> proc_descendants(pid_t root);
// Open descriptors of `pid` (entries of /proc/<pid>/fd); -1 if unreadable.
int proc_fd_count(pid_t pid);

// Exit-status helpers for a raw wait status.
std::optional<int> exit_code(int wait_status);
std::optional<int> term_signal(int wait_status);
std::string describe_status(int wait_status);
// The same for a status that may be missing (nullopt: still running): a check on it then fails,
// with no unchecked dereference.
std::optional<int> exit_code(const std::optional<int>& wait_status);
std::string describe_status(const std::optional<int>& wait_status);

// Escapes control and non-ASCII bytes, truncating long strings, for failure messages.
std::string printable(std::string_view s, std::size_t max = 400);

// Lines of `text` (without the '\n'), the last one kept even when unterminated.
std::vector<std::string> split_lines(std::string_view text);

// A temporary directory under /tmp (short path: sun_path is 108 bytes), removed recursively.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name with `mode`; returns the full path.
  std::string write_file(const std::string& name, std::string_view content,
                         unsigned mode = 0644) const;

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// Server: one hotwrap process.
class Conn;

class Server {
 public:
  struct Options {
    std::vector<std::string> argv;     // after "hotwrap": options and command
    EnvList env;                       // added to / replacing the defaults
    std::vector<std::string> unset;    // names removed from the environment
    bool http_stream_defaults = true;  // FN_FORMAT=http-stream, FN_LISTENER=unix:<dir>/lsnr.sock
    bool wait_ready = true;            // wait for the lsnr.sock handshake
    Ms ready_timeout = 5000ms;         // the agent's FN_HOT_START_TIMEOUT_MSECS
    std::function<void(const std::string& dir)> before_spawn;  // e.g. create stale files
    // Runs `wrapper... hotwrap argv...` instead (e.g. unshare, to make hotwrap PID 1);
    // pid() is then the wrapper's pid. Looked up in PATH.
    std::vector<std::string> wrapper{};
  };

  // Starts hotwrap with `argv` (options and command) and waits until it is ready.
  explicit Server(std::vector<std::string> argv, EnvList env = {});
  explicit Server(Options opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  std::string socket_path() const { return dir_ + "/lsnr.sock"; }
  std::string phony_path() const { return dir_ + "/phonylsnr.sock"; }
  // Time from spawn to the lsnr.sock handshake (zero if not waited for).
  Ms ready_time() const { return ready_time_; }

  Conn connect() const;

  void signal(int sig) const;
  // Raw wait status once hotwrap has exited, nullopt if it is still running after `timeout`.
  std::optional<int> wait_exit(Ms timeout);
  bool exited() const { return status_.has_value(); }
  // Waits (bounded) until hotwrap's stdout and stderr are both closed: all its output is in.
  bool wait_output_closed(Ms timeout) const;

  std::string stdout_text() const;
  std::string stderr_text() const;
  // Waits (bounded) until `needle` appears on hotwrap's stdout / stderr.
  bool wait_stdout(std::string_view needle, Ms timeout) const;
  bool wait_stderr(std::string_view needle, Ms timeout) const;

  // Open descriptors of hotwrap (entries of /proc/<pid>/fd); -1 if unreadable.
  int fd_count() const;
  std::vector<pid_t> children() const;     // PPid == hotwrap
  std::vector<pid_t> descendants() const;  // the whole tree under hotwrap
  std::vector<pid_t> zombies() const;      // children in state Z

 private:
  void start(Options opts);
  void stop_reader();
  void kill_tree();
  void reader_loop(int out_fd, int err_fd, int stop_fd);
  bool wait_text(const std::string& buf_name, std::string_view needle, Ms timeout) const;

  std::string dir_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> status_;
  Ms ready_time_{0};

  int stop_fd_ = -1;  // eventfd that tells the reader thread to finish
  std::thread reader_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string out_;
  std::string err_;
  bool reader_done_ = false;
};

// Runs hotwrap for start-up tests that must end before (or instead of) serving: waits for exit
// (bounded) and collects all of its output.
struct RunResult {
  std::optional<int> status;  // raw wait status; nullopt if it was still running at the limit
  std::string out;
  std::string err;
};
RunResult run_to_exit(Server::Options opts, Ms timeout = 5000ms);
RunResult run_to_exit(std::vector<std::string> argv, EnvList env = {}, Ms timeout = 5000ms);

// ---------------------------------------------------------------------------------------------
// HTTP client side.

struct Request {
  enum class Framing { Chunked, ContentLength, None };

  std::string method = "POST";
  std::string path = "/call";
  // Extra headers in order. A header named like a default one (Fn-Call-Id, Fn-Deadline, Host,
  // User-Agent, Accept-Encoding; case-insensitive) replaces the default.
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
  Framing framing = Framing::Chunked;  // the agent's default
  std::size_t chunk_size = 32 * 1024;  // for Framing::Chunked
  bool default_headers = true;         // Host, User-Agent, Fn-Call-Id, Fn-Deadline, ...
  std::vector<std::string> omit{};     // default headers not to send (case-insensitive)

  // The call id that will be sent (generated once per Request, then stable).
  std::string call_id() const;
  std::string serialize() const;

  // Cache for call_id(); public only so that Request stays an aggregate (designated initializers).
  mutable std::string generated_id_{};
};

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;      // Transfer-Encoding: chunked
  bool complete = false;     // the whole message arrived (terminating chunk / full length)
  bool closed = false;       // the server closed the connection (EOF or reset) while reading
  bool timed_out = false;    // the read's time limit passed first
  bool request_sent = true;  // call(): every byte of the request was written
  std::string error;         // llhttp parse error, if any
  WallClock::time_point completed_at{};  // wall clock when complete / closed / timed out
  Clock::time_point headers_at{};        // when the status line and headers were in
  Clock::time_point first_body_at{};     // when the first body byte arrived
  Clock::time_point done_at{};           // when complete / closed / timed out

  std::optional<std::string> header(std::string_view name) const;  // first value
  std::vector<std::string> header_values(std::string_view name) const;
  bool has_header(std::string_view name) const { return header(name).has_value(); }
};
std::ostream& operator<<(std::ostream& os, const Response& r);

bool iequals(std::string_view a, std::string_view b);

// connect() to a unix socket path once; 0 on success, else errno (ENOENT, ECONNREFUSED, ...).
int try_connect(const std::string& path);

// A TCP port nothing listens on now (bound to 0, then released), for a server under test.
uint16_t free_tcp_port();
// connect() to 127.0.0.1:`port` until it succeeds or `timeout` passes (a TCP server's readiness).
bool wait_tcp_ready(uint16_t port, Ms timeout);

// A client program run to its end (curl, python3): bounded, killed at the limit.
struct ClientResult {
  std::optional<int> status;  // raw wait status; nullopt if it was killed at the limit
  std::string out;
  std::string err;
};
ClientResult run_client(const std::vector<std::string>& argv, Ms timeout = 15000ms,
                        std::string_view input = {});

class Conn {
 public:
  explicit Conn(const std::string& socket_path);
  // A TCP connection to `host` (numeric) and `port`.
  static Conn tcp(uint16_t port, const std::string& host = "127.0.0.1");
  ~Conn();
  Conn(Conn&& other) noexcept;
  Conn& operator=(Conn&&) = delete;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool send_raw(std::string_view bytes, Ms timeout = 10000ms);
  // Sends the request while reading the response (like Go's transport: a server may answer
  // before it has read the whole body), then returns the response.
  Response call(const Request& req, Ms timeout = 15000ms);
  // Sends only (for tests that disconnect mid-call); bounded.
  bool send_request(const Request& req, Ms timeout = 10000ms);
  Response read_response(Ms timeout = 15000ms);
  // True once the server closed the connection (EOF/reset) within `timeout`; any bytes that
  // arrive first are kept for the next read_response.
  bool wait_closed(Ms timeout);
  void close();
  int fd() const { return fd_; }

 private:
  Conn(int fd, std::string_view what);
  void init_parser();
  Response exchange(std::string_view out, Ms timeout);
  void feed(Response& r);
  void on_eof(Response& r);

  static int on_message_begin(llhttp_t* p);
  static int on_header_field(llhttp_t* p, const char* at, std::size_t len);
  static int on_header_value(llhttp_t* p, const char* at, std::size_t len);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, std::size_t len);
  static int on_message_complete(llhttp_t* p);

  // Parser state lives on the heap so that llhttp's back pointers survive a move of Conn.
  struct Parser {
    llhttp_settings_t settings{};
    llhttp_t parser{};
    Response* cur = nullptr;  // the response being filled by the callbacks
    bool last_was_value = false;
    bool dead = false;      // a parse error happened: nothing more can be parsed
    bool finished = false;  // llhttp_finish was called (EOF)
  };

  int fd_ = -1;
  bool eof_ = false;
  std::string inbuf_;  // received, not yet parsed
  std::unique_ptr<Parser> p_;
};

// Waits (bounded, 5 s) for the call's first process to appear under hotwrap: the handshake that
// a call is running. Returns the process tree; throws (a test failure) when none appears.
std::vector<pid_t> wait_call_running(const Server& srv);

}  // namespace e2e
