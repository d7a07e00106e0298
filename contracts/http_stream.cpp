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
#include "hotwrap/http.hpp"
#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {

using std::chrono::microseconds;

// Queued response bytes above which the command's stdout is no longer read (backpressure).
constexpr size_t kOutputHighWater = 256 * 1024;
// Pipelined bytes held for the next request while a call runs; past it the socket is not read.
constexpr size_t kPendingLimit = 64 * 1024;

class HttpStream;

// One accepted connection: one call at a time, kept alive for as long as the agent wants it.
class Connection final : private CallHandler {
 public:
  Connection(HttpStream& server, UniqueFd fd);
  ~Connection();

  // Shutting down: closes the connection now unless a call is in flight.
  void close_if_idle();
  bool dead() const { return dead_; }

 private:
  void on_input(std::string_view bytes);
  void on_input_end(int err);
  void parse(std::string_view in);
  void begin_call();
  void end_of_request();
  void call_output(std::string_view bytes) override;
  void call_input_ready() override;
  void call_finished(const Outcome& outcome) override;
  void start_streaming();
  void answer(const Outcome& outcome);
  void send_response(int status, std::vector<Header> headers, std::string_view body);
  void send_error(int status, std::string_view message, bool then_close);
  void response_done();
  void next_request();
  void on_drained();
  void close();

  HttpStream& server_;
  const Config& cfg_;
  UniqueFd fd_;
  FdReader reader_;
  FdWriter writer_;
  RequestParser parser_;
  Timer next_;  // starts the next pipelined request outside the previous call's callbacks
  std::unique_ptr<Call> call_;
  std::string pending_;  // bytes of the next request, read while this one was being answered
  std::string body_;     // stdout held until the status is known
  int reject_ = 0;       // 404/405 for a request that is not POST /call; its body is discarded
  std::optional<Outcome> early_;  // the command ended before the request body did
  bool trigger_ = false;
  bool in_request_ = false;  // a request's head has arrived and its response is not sent yet
  bool request_ended_ = false;
  bool streaming_ = false;
  bool output_paused_ = false;
  bool close_after_flush_ = false;
  bool dead_ = false;
};

class HttpStream final : public Contract {
 public:
  HttpStream(Runner& runner, std::string listener);
  ~HttpStream() override;

  std::expected<void, std::string> start() override;
  void on_signal(int signo) override;

  Runner& runner() { return runner_; }
  bool shutting_down() const { return shutting_down_; }
  const std::vector<Header>& fdk_headers() const { return fdk_headers_; }
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
  std::vector<Header> fdk_headers_;
  bool fd_exhausted_ = false;
  bool shutting_down_ = false;
  bool files_created_ = false;
};

// ---- Connection -----------------------------------------------------------------------------

RequestLimits limits_from(const Config& c) {
  return {c.max_url_bytes, c.max_header_bytes, c.max_headers, c.max_body_bytes};
}

Connection::Connection(HttpStream& server, UniqueFd fd)
    : server_(server),
      cfg_(server.runner().config()),
      fd_(std::move(fd)),
      reader_(
          server.runner().loop(), fd_.get(), [this](std::string_view b) { on_input(b); },
          [this](int err) { on_input_end(err); }),
      writer_(
          server.runner().loop(), fd_.get(), [this] { on_drained(); },
          [this](int) {
            // The caller is gone: whatever it asked for is of no use any more.
            close();
          }),
      parser_(limits_from(cfg_)),
      next_(server.runner().loop(), [this] { next_request(); }) {
  reader_.start();
}

Connection::~Connection() = default;  // call_ first: kills a call still running

void Connection::close_if_idle() {
  if (!in_request_ && !parser_.in_message()) close();
}

void Connection::close() {
  if (dead_) return;
  dead_ = true;
  reader_.stop();
  next_.stop();
  server_.retire(this);
}

void Connection::on_input(std::string_view bytes) {
  if (in_request_ && request_ended_) {
    // Pipelined: the next request waits until this one is answered (one call at a time).
    pending_.append(bytes);
    if (pending_.size() >= kPendingLimit) reader_.stop();
    return;
  }
  parse(bytes);
}

void Connection::on_input_end(int err) {
  if (in_request_ && call_) {
    log(Level::Info, call_->id(), "caller closed the connection mid-call%s%s",
        err != 0 ? ": " : "", err != 0 ? std::strerror(err) : "");
  } else if (parser_.in_message() && !parser_.finish()) {
    log(Level::Info, {}, "connection closed mid-request: %s", parser_.error_reason().c_str());
  }
  close();
}

void Connection::parse(std::string_view in) {
  while (!in.empty() && !dead_) {
    RequestParser::Step step = parser_.feed(in);
    if (step.error) {
      log(Level::Warn, {}, "bad request (%d): %s", status_for(parser_.error()),
          parser_.error_reason().c_str());
      if (call_) {
        // The body broke mid-call: nobody can be answered on this connection.
        call_.reset();
        close();
        return;
      }
      send_error(status_for(parser_.error()), parser_.error_reason(), true);
      return;
    }
    if (step.head) begin_call();
    if (call_) {
      for (std::string_view b : parser_.body()) call_->feed(b);
    }
    in.remove_prefix(step.consumed);
    if (step.end) {
      pending_.assign(in);
      end_of_request();
      return;
    }
    if (call_ && call_->input_congested()) {
      // The command is behind: read no more body until it catches up.
      reader_.stop();
      pending_.assign(in);
      return;
    }
  }
}

void Connection::begin_call() {
  const RequestHead& h = parser_.head();
  in_request_ = true;
  request_ended_ = false;
  early_.reset();
  body_.clear();
  streaming_ = false;
  output_paused_ = false;
  if (h.path() != "/call") {
    reject_ = 404;
    return;
  }
  if (h.method != "POST") {
    reject_ = 405;
    return;
  }
  reject_ = 0;
  Runner& runner = server_.runner();
  CallEnv& env = runner.env();
  env.clear();
  std::string id;
  std::optional<WallTime> deadline;
  trigger_ = false;
  for (const Header& hd : h.headers) {
    env.add_header(hd.name, hd.value);
    if (iequals(hd.name, "Fn-Call-Id")) id = hd.value;
    if (iequals(hd.name, "Fn-Intent")) trigger_ = iequals(hd.value, "httprequest");
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
  call_ = runner.start(*this, CallRequest{std::move(id), deadline, StdioPlan{}});
}

void Connection::end_of_request() {
  request_ended_ = true;
  if (call_) {
    call_->end_input();
  } else if (early_) {
    Outcome o = *early_;
    early_.reset();
    answer(o);
  } else if (reject_ == 404) {
    send_error(404, "only POST /call is served here", false);
  } else if (reject_ == 405) {
    std::vector<Header> headers = server_.fdk_headers();
    headers.push_back({"Allow", "POST"});
    headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
    send_response(405, std::move(headers), "hotwrap: /call takes POST only\n");
    response_done();
  }
  // A call keeps reading so a caller that hangs up is noticed; the bytes wait in pending_.
  if (!dead_ && call_ && pending_.size() < kPendingLimit) reader_.start();
}

void Connection::call_output(std::string_view bytes) {
  if (streaming_) {
    std::string head = chunk_header(bytes.size());
    std::string_view pieces[] = {head, bytes, "\r\n"};
    writer_.write(pieces);
  } else {
    body_.append(bytes);
    if (body_.size() > cfg_.buffer_bytes) start_streaming();
  }
  if (writer_.queued() > kOutputHighWater && call_) {
    output_paused_ = true;
    call_->pause_output();
  }
}

void Connection::start_streaming() {
  // Past the buffer the status can no longer wait for the exit code: commit to 200 and stream.
  streaming_ = true;
  std::vector<Header> headers = server_.fdk_headers();
  if (trigger_) headers.push_back({"Fn-Http-Status", "200"});
  headers.push_back({"Content-Type", cfg_.content_type});
  std::string head = response_head(200, headers, -1);
  std::string chunk = chunk_header(body_.size());
  std::string_view pieces[] = {head, chunk, body_, "\r\n"};
  writer_.write(pieces);
  body_.clear();
  body_.shrink_to_fit();  // the buffer may have been large; streaming needs none of it
}

void Connection::call_input_ready() {
  if (dead_ || request_ended_) return;
  // Resume with what was left over when the command fell behind, then the socket.
  std::string rest = std::move(pending_);
  pending_.clear();
  reader_.start();
  parse(rest);
}

void Connection::call_finished(const Outcome& outcome) {
  std::unique_ptr<Call> done = std::move(call_);  // destroyed on return: the call has ended
  const std::string& id = done->id();
  if (!outcome.ok()) log(Level::Warn, id, "command %s", outcome.describe().c_str());
  if (dead_) return;
  if (streaming_) {
    if (outcome.ok()) {
      writer_.write("0\r\n\r\n");
      response_done();
    } else {
      // The 200 is already on the wire; the only honest signal left is a body that never ends.
      log(Level::Error, id, "command failed after the response began streaming; closing the "
                            "connection without the final chunk");
      close();
    }
    return;
  }
  if (!request_ended_) {
    // The command ended before the request body did. The rest of the body is read and dropped
    // before answering, so the connection stays usable.
    early_ = outcome;
    std::string rest = std::move(pending_);
    pending_.clear();
    reader_.start();
    parse(rest);
    return;
  }
  answer(outcome);
}

void Connection::answer(const Outcome& outcome) {
  std::vector<Header> headers = server_.fdk_headers();
  int status = 200;
  std::string message;
  if (outcome.kind == Outcome::Kind::TimedOut) {
    // Sent before Fn-Deadline: the agent keeps a container that answers 504 itself.
    status = 504;
    message = "hotwrap: the command did not finish before the deadline\n";
  } else if (trigger_) {
    // HTTP trigger: the gateway takes the status from Fn-Http-Status and the caller still gets
    // the command's output.
    headers.push_back({"Fn-Http-Status", outcome.ok() ? "200" : "500"});
  } else if (!outcome.ok()) {
    status = 502;
    message = "hotwrap: the command " + outcome.describe() + "\n";
  }
  if (status == 200) {
    headers.push_back({"Content-Type", cfg_.content_type});
    send_response(200, std::move(headers), body_);
  } else {
    headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
    send_response(status, std::move(headers), message);
  }
  body_.clear();
  if (body_.capacity() > (64u << 10)) body_.shrink_to_fit();
  response_done();
}

void Connection::send_response(int status, std::vector<Header> headers, std::string_view body) {
  std::string head = response_head(status, headers, static_cast<int64_t>(body.size()));
  std::string_view pieces[] = {head, body};
  writer_.write(pieces);
}

void Connection::send_error(int status, std::string_view message, bool then_close) {
  std::vector<Header> headers = server_.fdk_headers();
  headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  if (then_close) headers.push_back({"Connection", "close"});
  std::string body = "hotwrap: " + std::string(message) + "\n";
  send_response(status, std::move(headers), body);
  if (then_close) {
    close_after_flush_ = true;
    reader_.stop();
    if (writer_.queued() == 0) close();
    return;
  }
  response_done();
}

void Connection::response_done() {
  in_request_ = false;
  request_ended_ = false;
  reject_ = 0;
  if (!parser_.keep_alive() || server_.shutting_down()) {
    close_after_flush_ = true;
    reader_.stop();
    if (writer_.queued() == 0) close();
    return;
  }
  next_.start(microseconds(0));
}

void Connection::next_request() {
  if (dead_) return;
  std::string rest = std::move(pending_);
  pending_.clear();
  reader_.start();
  parse(rest);
}

void Connection::on_drained() {
  if (close_after_flush_) {
    close();
    return;
  }
  if (output_paused_ && call_) {
    output_paused_ = false;
    call_->resume_output();
  }
}

// ---- HttpStream ------------------------------------------------------------------------------

// A unix socket listener: socket() + bind() + listen(), the only place a socket is made.
Result<UniqueFd> listen_unix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return sys_fail("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return sys_fail("bind");
  if (::listen(fd.get(), 128) < 0) return sys_fail("listen");
  return fd;
}

HttpStream::HttpStream(Runner& runner, std::string listener)
    : runner_(runner),
      loop_(runner.loop()),
      listener_(std::move(listener)),
      sweep_timer_(loop_, [this] { sweep(); }),
      accept_retry_(loop_, [this] {
        fd_exhausted_ = false;
        update_accepting();
      }),
      shutdown_timer_(loop_, [this] { finish_shutdown(); }) {
  const std::string& cmd = runner.config().command.front();
  fdk_headers_ = {{"Fn-Fdk-Version", "hotwrap/" HOTWRAP_VERSION},
                  {"Fn-Fdk-Runtime", "exec/" + cmd.substr(cmd.rfind('/') + 1)}};
}

HttpStream::~HttpStream() {
  conns_.clear();
  remove_socket_files();
}

std::expected<void, std::string> HttpStream::start() {
  auto fail = [&](const std::string& why) {
    return std::unexpected("FN_LISTENER='" + listener_ + "': " + why);
  };
  if (!listener_.starts_with("unix:")) {
    return fail("must start with 'unix:' followed by the socket path, e.g. unix:/tmp/iofs/lsnr.sock");
  }
  sock_path_ = listener_.substr(5);
  size_t slash = sock_path_.rfind('/');
  if (sock_path_.empty() || slash == sock_path_.size() - 1) {
    return fail("no socket file name after 'unix:'");
  }
  std::string dir = slash == std::string::npos ? "." : sock_path_.substr(0, slash == 0 ? 1 : slash);
  std::string base = slash == std::string::npos ? sock_path_ : sock_path_.substr(slash + 1);
  phony_path_ = (slash == std::string::npos ? "" : sock_path_.substr(0, slash + 1)) + "phony" + base;
  // sun_path holds 108 bytes including the terminating NUL; the phony name is the longer one.
  if (phony_path_.size() > sizeof(sockaddr_un{}.sun_path) - 1) {
    return fail("path too long for a unix socket (with the 'phony' prefix it must fit in 107 bytes)");
  }
  struct stat st {};
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
      conns_.push_back(std::make_unique<Connection>(*this, UniqueFd(fd)));
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors: the pending connection stays readable, so retrying at once would spin.
      log(Level::Warn, {}, "accept: %s; pausing new connections for 100 ms", std::strerror(errno));
      fd_exhausted_ = true;
      accept_retry_.start(std::chrono::milliseconds(100));
    } else if (errno != EAGAIN) {
      log(Level::Warn, {}, "accept: %s", std::strerror(errno));
    }
    break;
  }
  update_accepting();
}

void HttpStream::retire(Connection*) { sweep_timer_.start(microseconds(0)); }

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
