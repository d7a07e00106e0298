// Fn http-stream: the agent speaks HTTP/1.1 to a unix socket the container creates.
// Spec: POST /call per call, Fn-Call-Id / Fn-Deadline headers, 200 / 502 / 504 answers, the
// HTTP-trigger variant (Fn-Intent: httprequest) with the status inside Fn-Http-Status.

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "contracts/contract.hpp"
#include "contracts/http_exchange.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {

using std::chrono::microseconds;

class HttpStream;

// One accepted connection: owns the socket; the exchange on it serves one call at a time, kept
// alive for as long as the agent wants it.
class Connection final : private HttpExchange::Owner {
 public:
  Connection(HttpStream& server, UniqueFd fd);

  // Shutting down: closes the connection now unless a call is in flight.
  void close_if_idle() { exchange_.end_if_idle(); }
  bool dead() const { return exchange_.ended(); }

 private:
  Route route(const RequestHead& head) override;
  void exchange_ended(HttpExchange& exchange, HttpExchange::End end, int err) override;
  bool draining() const override;

  HttpStream& server_;
  UniqueFd fd_;
  HttpExchange exchange_;  // declared after fd_: gone (its call killed) before the socket closes
};

class HttpStream final : public Contract {
 public:
  HttpStream(Runner& runner, std::string listener);
  ~HttpStream() override;

  std::expected<void, std::string> start() override;
  void on_signal(int signo) override;

  Runner& runner() { return runner_; }
  bool shutting_down() const { return shutting_down_; }
  // The connection is finished; it is destroyed on the next loop iteration, outside its callbacks.
  void retire(Connection* c);

 private:
  void on_accept();
  void sweep();
  void begin_shutdown();
  void finish_shutdown();
  void remove_socket_files();
  void update_accepting();

  Runner& runner_;
  Loop& loop_;
  std::string listener_;
  std::string sock_path_;
  std::string phony_path_;
  UniqueFd listen_fd_;
  std::optional<Watch> accept_watch_;
  Timer sweep_timer_;
  Timer accept_retry_;  // after EMFILE: try accept() again later instead of spinning
  Timer shutdown_timer_;
  std::list<std::unique_ptr<Connection>> conns_;
  bool fd_exhausted_ = false;
  bool emfile_logged_ = false;  // one line per episode, not one per retry
  bool limit_logged_ = false;
  bool shutting_down_ = false;
  bool files_created_ = false;
};

// ---- Connection -----------------------------------------------------------------------------

Connection::Connection(HttpStream& server, UniqueFd fd)
    : server_(server),
      fd_(std::move(fd)),
      exchange_(server.runner(), *this, fd_.get(), fd_.get(), HttpExchange::Transport::Connection) {
}

Route Connection::route(const RequestHead& h) {
  Route r;
  if (h.path() != "/call") {
    r.reject = 404;
    r.message = "only POST /call is served here";
    return r;
  }
  if (h.method != "POST") {
    r.reject = 405;
    r.message = "/call takes POST only";
    r.headers.push_back({"Allow", "POST"});
    return r;
  }
  Runner& runner = server_.runner();
  CallEnv& env = runner.env();
  env.clear();
  std::string id;
  std::optional<WallTime> deadline;
  for (const Header& hd : h.headers) {
    env.add_header(hd.name, hd.value);
    if (iequals(hd.name, "Fn-Call-Id")) id = hd.value;
    if (iequals(hd.name, "Fn-Intent")) r.trigger = iequals(hd.value, "httprequest");
    if (iequals(hd.name, "Fn-Deadline")) {
      if (auto d = parse_rfc3339(hd.value)) {
        deadline = *d;
      } else {
        log(Level::Warn, id, "ignoring Fn-Deadline: %s", d.error().c_str());
      }
    }
  }
  if (const std::string& hdr = runner.logframe_header(); !hdr.empty()) {
    const std::string* v = h.find(hdr);
    runner.write_log_frame(v != nullptr ? *v : std::string_view(), true);
  }
  r.request = CallRequest{std::move(id), deadline, StdioPlan{}};
  return r;
}

void Connection::exchange_ended(HttpExchange&, HttpExchange::End, int) {
  // However it ended (the agent hung up, a bad request, a failed write), the connection is done;
  // the exchange has logged what deserved a line.
  server_.retire(this);
}

bool Connection::draining() const {
  return server_.shutting_down();
}

// ---- HttpStream ------------------------------------------------------------------------------

// A unix socket listener: socket() + bind() + listen(), the only place a socket is made.
Result<UniqueFd> listen_unix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return sys_fail("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return sys_fail("bind");
  if (::listen(fd.get(), 128) < 0) return sys_fail("listen");
  return fd;
}

HttpStream::HttpStream(Runner& runner, std::string listener)
    : runner_(runner),
      loop_(runner.loop()),
      listener_(std::move(listener)),
      sweep_timer_(loop_, [this] { sweep(); }),
      accept_retry_(loop_,
                    [this] {
                      fd_exhausted_ = false;
                      update_accepting();
                    }),
      shutdown_timer_(loop_, [this] { finish_shutdown(); }) {}

HttpStream::~HttpStream() {
  conns_.clear();
  remove_socket_files();
}

std::expected<void, std::string> HttpStream::start() {
  auto fail = [&](const std::string& why) {
    return std::unexpected("FN_LISTENER='" + listener_ + "': " + why);
  };
  if (!listener_.starts_with("unix:")) {
    return fail(
        "must start with 'unix:' followed by the socket path, e.g. unix:/tmp/iofs/lsnr.sock");
  }
  sock_path_ = listener_.substr(5);
  size_t slash = sock_path_.rfind('/');
  if (sock_path_.empty() || slash == sock_path_.size() - 1) {
    return fail("no socket file name after 'unix:'");
  }
  std::string dir = slash == std::string::npos ? "." : sock_path_.substr(0, slash == 0 ? 1 : slash);
  std::string base = slash == std::string::npos ? sock_path_ : sock_path_.substr(slash + 1);
  phony_path_ =
      (slash == std::string::npos ? "" : sock_path_.substr(0, slash + 1)) + "phony" + base;
  // sun_path holds 108 bytes including the terminating NUL; the phony name is the longer one.
  if (phony_path_.size() > sizeof(sockaddr_un{}.sun_path) - 1) {
    return fail(
        "path too long for a unix socket (with the 'phony' prefix it must fit in 107 bytes)");
  }
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail("directory " + dir + " does not exist; mount the socket directory first");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return fail("directory " + dir + " is not writable by uid " + std::to_string(::getuid()));
  }
  // Stale files from an earlier run would make bind() fail or point the agent at a dead socket.
  ::unlink(phony_path_.c_str());
  ::unlink(sock_path_.c_str());
  auto fd = listen_unix(phony_path_);
  if (!fd) return fail("cannot listen on " + phony_path_ + ": " + fd.error().describe());
  listen_fd_ = std::move(*fd);
  files_created_ = true;
  // The agent runs as another user.
  if (::chmod(phony_path_.c_str(), 0666) < 0) {
    return fail("chmod 0666 " + phony_path_ + ": " + std::strerror(errno));
  }
  // The agent takes the creation of lsnr.sock as "ready", so it must appear only once the socket
  // listens; and it accepts a symlink only to a bare name in the same directory.
  std::string target = "phony" + base;
  if (::symlink(target.c_str(), sock_path_.c_str()) < 0) {
    return fail("symlink " + sock_path_ + " -> " + target + ": " + std::strerror(errno));
  }
  accept_watch_.emplace(loop_, listen_fd_.get(), EV_READ, [this] { on_accept(); });
  accept_watch_->start();
  runner_.enable_prespawn();
  log(Level::Debug, {}, "listening on %s", sock_path_.c_str());
  return {};
}

void HttpStream::update_accepting() {
  if (!accept_watch_) return;
  bool can = !shutting_down_ && !fd_exhausted_ && conns_.size() < runner_.config().max_connections;
  if (can) {
    accept_watch_->start();
  } else {
    accept_watch_->stop();
  }
}

void HttpStream::on_accept() {
  while (conns_.size() < runner_.config().max_connections) {
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      // A unix socket's default buffer (~200 KiB) makes a streaming response stall and re-arm
      // several times per MiB; 1 MiB each way lets a pipe's worth pass in one write. The memory
      // is only used when a caller lags; the kernel caps it at net.core.[rw]mem_max.
      int size = 1 << 20;
      (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
      (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
      conns_.push_back(std::make_unique<Connection>(*this, UniqueFd(fd)));
      emfile_logged_ = false;
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors: the pending connection stays readable, so retrying at once would spin.
      if (!emfile_logged_) {
        log(Level::Warn, {}, "accept: %s; new connections wait until descriptors free up",
            std::strerror(errno));
        emfile_logged_ = true;
      }
      fd_exhausted_ = true;
      accept_retry_.start(std::chrono::milliseconds(100));
    } else if (errno != EAGAIN) {
      log(Level::Warn, {}, "accept: %s", std::strerror(errno));
    }
    break;
  }
  size_t limit = runner_.config().max_connections;
  if (conns_.size() >= limit && !limit_logged_) {
    log(Level::Warn, {},
        "%zu connections open, the limit (HOTWRAP_MAX_CONNECTIONS); further connections wait",
        limit);
  }
  limit_logged_ = conns_.size() >= limit;
  update_accepting();
}

void HttpStream::retire(Connection*) {
  sweep_timer_.start(microseconds(0));
}

void HttpStream::sweep() {
  conns_.remove_if([](const std::unique_ptr<Connection>& c) { return c->dead(); });
  if (shutting_down_ && conns_.empty()) {
    loop_.stop(0);
    return;
  }
  update_accepting();
}

void HttpStream::on_signal(int signo) {
  if (signo != SIGTERM && signo != SIGINT) return;
  if (shutting_down_) {
    log(Level::Info, {}, "second %s: stopping now", ::strsignal(signo));
    finish_shutdown();
    return;
  }
  log(Level::Info, {}, "%s: shutting down", ::strsignal(signo));
  begin_shutdown();
}

void HttpStream::begin_shutdown() {
  shutting_down_ = true;
  runner_.stop_prespawn();
  accept_watch_.reset();
  listen_fd_.reset();
  remove_socket_files();
  for (auto& c : conns_) c->close_if_idle();
  shutdown_timer_.start(std::chrono::duration_cast<microseconds>(runner_.config().shutdown_grace));
  sweep_timer_.start(microseconds(0));
}

void HttpStream::finish_shutdown() {
  if (runner_.running() > 0) log(Level::Warn, {}, "shutdown grace over; killing the running call");
  conns_.clear();  // kills what still runs
  loop_.stop(0);
}

void HttpStream::remove_socket_files() {
  if (!files_created_) return;
  files_created_ = false;
  ::unlink(sock_path_.c_str());
  ::unlink(phony_path_.c_str());
}

}  // namespace

std::unique_ptr<Contract> make_http_stream_contract(Runner& runner, std::string listener) {
  return std::make_unique<HttpStream>(runner, std::move(listener));
}

}  // namespace hotwrap
