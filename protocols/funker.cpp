// The funker contract. Spec: bfirsh/funker's README ("Architecture"), funker-python call.py and
// handle.py: TCP 9999, the arguments as one JSON value, the caller's half-close ends them, the
// answer is read to EOF; no framing, no status, no error channel.

#include "protocols/funker.hpp"

#include <cerrno>
#include <cstring>
#include <optional>

#include "hotwrap/call_id.hpp"
#include "hotwrap/log.hpp"
#include "hotwrap/net.hpp"
#include "hotwrap/stream.hpp"
#include "protocols/json.hpp"

namespace hotwrap {

Verdict funker_verdict(const Outcome* o, const std::string& json_error) {
  Verdict v;
  if (o == nullptr) return v;  // streaming: the output is the answer, as far as it goes
  if (o->ok() && json_error.empty()) return v;
  v.failed = true;
  v.output_is_body = false;  // no bytes: Funker's only way to say "failed"
  v.status = o->timed_out() ? 504 : o->kind == Outcome::Kind::ShutDown ? 503 : o->ok() ? 502 : 500;
  return v;
}

// One accepted connection: one call. Reads the caller's bytes into the command until the
// half-close, holds (then streams) the output through the reply path, writes it and closes.
class FunkerConnection final : public Connection, private CallHandler, private ReplyFraming {
 public:
  FunkerConnection(FunkerService& service, UniqueFd fd, Listener& listener);
  ~FunkerConnection() override = default;
  FunkerConnection(const FunkerConnection&) = delete;
  FunkerConnection& operator=(const FunkerConnection&) = delete;

  // Every connection is a call in progress: draining waits for its answer (the shutdown grace
  // bounds it).
  void close_if_idle() override {}
  bool closed() const override { return closed_; }

 private:
  void on_input(std::string_view bytes);
  void on_input_end(int err);
  void on_limit();
  void call_output(std::string_view bytes) override {
    if (!closed_) reply_.output(bytes);
  }
  void call_input_ready() override {
    if (!input_ended_ && !closed_) reader_.start();
  }
  void call_finished(const Outcome& outcome) override;
  void send_whole(const Verdict& verdict, std::string_view body) override;
  void send_head(const Verdict&, std::string_view first) override { writer_.write(first); }
  void send_more(std::string_view bytes) override { writer_.write(bytes); }
  void send_end(const Verdict& verdict) override;
  size_t queued() const override { return writer_.queued(); }
  void reply_sent() override {}
  Verdict decide(const Outcome* outcome);
  void close_after_flush();
  void on_write_error(int err);
  void close_now(bool reset);

  FunkerService& service_;
  Listener& listener_;
  UniqueFd fd_;
  std::string id_;
  FdReader reader_;
  FdWriter writer_;
  Reply reply_;
  Timer limit_;  // the call has ended and the caller has still not half-closed
  std::chrono::steady_clock::time_point started_;
  std::optional<Outcome> ended_;  // the call's end, waiting for the caller's half-close
  uint64_t bytes_in_ = 0;
  bool input_ended_ = false;
  bool flushing_ = false;
  bool closed_ = false;
  std::unique_ptr<CallControl> call_;  // declared last: gone (killed) before what it uses
};

FunkerConnection::FunkerConnection(FunkerService& service, UniqueFd fd, Listener& listener)
    : service_(service),
      listener_(listener),
      fd_(std::move(fd)),
      id_(new_call_id()),
      reader_(
          listener.loop(), fd_.get(), [this](std::string_view b) { on_input(b); },
          [this](int err) { on_input_end(err); }),
      writer_(
          listener.loop(), fd_.get(),
          [this] {
            reply_.drained();
            if (flushing_ && writer_.queued() == 0) close_now(false);
          },
          [this](int err) { on_write_error(err); }),
      reply_(listener.loop(), *this, service.config_),
      limit_(listener.loop(), [this] { on_limit(); }),
      started_(std::chrono::steady_clock::now()) {
  CallRequest request;
  request.id = id_;
  request.meta.contract = "funker";
  call_ = service_.calls_.start(*this, std::move(request));
  // Funker's answer is the output as it is: a CGI head means nothing to its callers.
  reply_.begin([this](const Outcome* o, const CgiHead*) { return decide(o); }, call_.get(), false);
  reader_.start();
}

Verdict FunkerConnection::decide(const Outcome* o) {
  std::string json_error;
  if (o != nullptr && o->ok() && service_.config_.funker_json && !reply_.streaming()) {
    json_error = json_value_error(reply_.held());
    if (!json_error.empty()) {
      log(Level::Warn, id_,
          "stdout is not one JSON value (%s, %zu bytes); answering nothing "
          "(HOTWRAP_FUNKER_JSON=1)",
          json_error.c_str(), reply_.held().size());
    }
  }
  return funker_verdict(o, json_error);
}

void FunkerConnection::on_input(std::string_view bytes) {
  bytes_in_ += bytes.size();
  if (service_.config_.max_body_bytes != 0 && bytes_in_ > service_.config_.max_body_bytes) {
    log(Level::Warn, id_, "the request passed HOTWRAP_MAX_BODY_BYTES=%llu; closing with no answer",
        static_cast<unsigned long long>(service_.config_.max_body_bytes));
    close_now(true);
    return;
  }
  if (!call_) return;  // the call has ended: the rest is read and dropped until the half-close
  call_->feed(bytes);
  if (call_->input_congested()) reader_.stop();  // call_input_ready() resumes
}

void FunkerConnection::on_input_end(int err) {
  input_ended_ = true;
  if (err != 0) {
    log(Level::Warn, id_, "reading the request: %s; closing with no answer", std::strerror(err));
    close_now(true);
    return;
  }
  if (call_) {
    call_->end_input();
    return;
  }
  if (ended_) {
    limit_.stop();
    Outcome o = std::move(*ended_);
    ended_.reset();
    reply_.finish(o);
  }
}

void FunkerConnection::call_finished(const Outcome& outcome) {
  std::unique_ptr<CallControl> done = std::move(call_);  // destroyed on return: the call ended
  service_.last_exit_code_ = outcome.exit_code();
  if (closed_) return;  // nobody to answer
  if (input_ended_ || reply_.streaming() || outcome.timed_out() ||
      outcome.kind == Outcome::Kind::ShutDown) {
    // A streamed answer ends now, and so does a call out of time: the rest of a request still
    // arriving goes unread.
    reply_.finish(outcome);
    return;
  }
  // The command is done before the caller half-closed: the answer (or, for a failure, the empty
  // one) waits for the half-close — closing with unread bytes would reset the connection and
  // lose the answer — within the call's time limit.
  reply_.release_call();
  ended_ = outcome;
  reader_.start();
  if (service_.config_.timeout.count() != 0) {
    auto left = started_ + service_.config_.timeout - std::chrono::steady_clock::now();
    limit_.start(std::chrono::duration_cast<std::chrono::microseconds>(left));
  }
}

void FunkerConnection::on_limit() {
  if (!ended_) return;
  log(Level::Warn, id_,
      "the caller did not half-close its connection within HOTWRAP_TIMEOUT_MS=%lld; closing "
      "with no answer",
      static_cast<long long>(service_.config_.timeout.count()));
  Outcome o = std::move(*ended_);
  ended_.reset();
  o.kind = Outcome::Kind::TimedOut;
  reply_.finish(o);
}

void FunkerConnection::send_whole(const Verdict& v, std::string_view body) {
  if (v.failed) {
    close_now(false);  // no bytes: the caller reads an empty answer
    return;
  }
  writer_.write(body);
  close_after_flush();
}

void FunkerConnection::send_end(const Verdict& v) {
  if (v.failed) {
    // Part of the output is on its way: a reset, not an EOF, so that the caller reads an error
    // rather than a complete-looking answer.
    log(Level::Warn, id_,
        "the call failed after its answer began streaming; resetting the "
        "connection");
    close_now(true);
    return;
  }
  close_after_flush();
}

void FunkerConnection::close_after_flush() {
  if (writer_.queued() == 0) {
    close_now(false);
    return;
  }
  flushing_ = true;  // the writer's drain closes
}

void FunkerConnection::on_write_error(int err) {
  log(Level::Warn, id_, "writing the answer: %s (the caller hung up)", std::strerror(err));
  close_now(true);  // the call's process group ends with the connection
}

void FunkerConnection::close_now(bool reset) {
  if (closed_) return;
  closed_ = true;
  reader_.stop();
  limit_.stop();
  if (reset) reset_on_close(fd_.get());
  // A call still running is killed with the connection, on the listener's next sweep (never
  // here: this may run inside the call's own callbacks), and the socket closes after the
  // reader's and the writer's events are gone.
  if (call_) reply_.abandon();
  listener_.retire();
}

Listener::Factory FunkerService::connections() {
  return [this](UniqueFd fd, Listener& listener) -> std::unique_ptr<Connection> {
    return std::make_unique<FunkerConnection>(*this, std::move(fd), listener);
  };
}

}  // namespace hotwrap
