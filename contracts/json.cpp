// Fn's legacy json format, hot, over hotwrap's stdin and stdout (spec §2.2): JSON request objects
// back to back on stdin, one call each, strictly in order; one compact JSON response object and a
// newline per call on stdout. stdout is the protocol: logs and log frames go to stderr only.

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "contracts/contract.hpp"
#include "contracts/json.hpp"
#include "contracts/stdio.hpp"
#include "contracts/verdict.hpp"
#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {

using std::chrono::microseconds;

// Queued response bytes above which the command's stdout is no longer read (backpressure).
constexpr size_t kOutputHighWater = 256 * 1024;
// Input read ahead while a call runs; past it stdin is not read until the call is answered.
constexpr size_t kPendingLimit = 64 * 1024;

class JsonFormat final : public Contract, private CallHandler {
 public:
  explicit JsonFormat(Runner& runner);
  ~JsonFormat() override;

  std::expected<void, std::string> start() override;
  void on_signal(int signo) override;

 private:
  void on_input(std::string_view bytes);
  void on_input_end(int err);
  void split(std::string_view in);
  void begin_call();
  void refuse(int status, const std::string& message);
  void call_output(std::string_view bytes) override;
  void call_input_ready() override {}  // the body is handed over whole: nothing waits on it
  void call_finished(const Outcome& outcome) override;
  void start_streaming();
  void next_frame();
  void check_input_exhausted();
  void on_drained();
  void on_write_error(int err);
  void stop(int code);

  Runner& runner_;
  const Config& cfg_;
  const std::vector<Header> fdk_headers_;
  StdioNonBlocking stdio_;  // declared first: the flags come back after the streams are gone
  FdReader reader_;         // started by start(), once stdin is non-blocking
  FdWriter writer_;
  JsonFrameSplitter splitter_;
  Timer next_;  // starts the next request outside the previous call's callbacks
  Timer shutdown_timer_;
  std::unique_ptr<Call> call_;
  std::string pending_;  // input read while a call runs, not split yet
  std::string body_;     // stdout held until the status is known
  std::string out_;      // reused for encoded output
  JsonStringEncoder encoder_;
  bool trigger_ = false;
  bool streaming_ = false;
  bool output_paused_ = false;
  bool input_ended_ = false;
  bool draining_ = false;  // SIGTERM/SIGINT: no new call; exit once the running one is answered
  bool stopping_ = false;
  int exit_code_ = kExitStreamOk;
};

JsonFormat::JsonFormat(Runner& runner)
    : runner_(runner),
      cfg_(runner.config()),
      fdk_headers_(fdk_headers(cfg_)),
      reader_(
          runner.loop(), STDIN_FILENO, [this](std::string_view b) { on_input(b); },
          [this](int err) { on_input_end(err); }),
      writer_(
          runner.loop(), STDOUT_FILENO, [this] { on_drained(); },
          [this](int err) { on_write_error(err); }),
      splitter_(json_frame_limit(cfg_.max_body_bytes, cfg_.max_header_bytes)),
      next_(runner.loop(), [this] { next_frame(); }),
      shutdown_timer_(runner.loop(), [this] {
        log(Level::Warn, {}, "shutdown grace over; killing the running call");
        call_.reset();
        stop(kExitStreamOk);
      }) {}

JsonFormat::~JsonFormat() {
  call_.reset();  // kills a call still running, before the streams it writes to go
  runner_.stop_prespawn();
}

std::expected<void, std::string> JsonFormat::start() {
  if (auto r = stdio_.apply(); !r) return std::unexpected(r.error());
  if (stdio_.stderr_caught()) runner_.relay_stderr();  // the command gets a blocking stderr
  reader_.start();
  runner_.enable_prespawn();
  return {};
}

void JsonFormat::on_input(std::string_view bytes) {
  if (call_ || next_.active() || !pending_.empty()) {
    // One call at a time: what follows waits, in order, behind what arrived before it.
    pending_.append(bytes);
    if (pending_.size() >= kPendingLimit) reader_.stop();
    return;
  }
  split(bytes);
}

void JsonFormat::on_input_end(int err) {
  if (err != 0) {
    log(Level::Error, {}, "cannot read stdin: %s; stopping", std::strerror(err));
    call_.reset();
    stop(kExitStreamBroken);
    return;
  }
  input_ended_ = true;
  check_input_exhausted();
}

void JsonFormat::check_input_exhausted() {
  // After EOF, once nothing is running or waiting, the input is done: it must end between frames.
  if (!input_ended_ || stopping_ || call_ || next_.active() || !pending_.empty()) return;
  if (!splitter_.finish()) {
    log(Level::Error, {}, "%s; stopping", splitter_.error_message().c_str());
    stop(kExitStreamBroken);
    return;
  }
  stop(kExitStreamOk);
}

void JsonFormat::split(std::string_view in) {
  while (!in.empty() && !stopping_) {
    JsonFrameSplitter::Step step = splitter_.feed(in);
    in.remove_prefix(step.consumed);
    if (step.fatal) {
      // Garbage between objects: where the next request begins cannot be known, and guessing
      // could run a call on half of someone else's body.
      log(Level::Error, {}, "%s; stopping (no request boundary to resume from)",
          splitter_.error_message().c_str());
      stop(kExitStreamBroken);
      return;
    }
    if (!step.frame) continue;
    if (splitter_.frame_error() != JsonFrameSplitter::Error::None) {
      refuse(413, splitter_.error_message());  // skipped to its end: the stream goes on
      continue;
    }
    begin_call();
    if (call_) {
      pending_.assign(in);
      return;
    }
  }
}

void JsonFormat::begin_call() {
  auto call = map_json_request(splitter_.frame(), splitter_.frame_offset(), runner_.env(),
                               runner_.logframe_header(), cfg_.max_body_bytes);
  if (!call) {
    refuse(call.error().status, call.error().message);
    return;
  }
  runner_.write_log_frame(call->logframe_value, false);
  trigger_ = call->trigger;
  body_.clear();
  encoder_ = JsonStringEncoder();
  streaming_ = false;
  output_paused_ = false;
  call_ = runner_.start(*this, CallRequest{std::move(call->id), call->deadline, StdioPlan{}});
  call_->feed(call->body);
  call_->end_input();
}

void JsonFormat::refuse(int status, const std::string& message) {
  // The frame's end is known, so one error object answers it and the next frame is served.
  log(Level::Warn, {}, "%s", message.c_str());
  std::vector<Header> headers = fdk_headers_;
  writer_.write(json_response("hotwrap: " + message + "\n", status, kTextPlain, headers));
}

void JsonFormat::call_output(std::string_view bytes) {
  if (streaming_) {
    out_.clear();
    encoder_.append(bytes, out_);
    writer_.write(out_);
  } else {
    body_.append(bytes);
    if (body_.size() > cfg_.buffer_bytes) start_streaming();
  }
  if (writer_.queued() > kOutputHighWater && call_) {
    output_paused_ = true;
    call_->pause_output();
  }
}

void JsonFormat::start_streaming() {
  // Past the buffer the output is sent as it comes. Unlike an HTTP status line, the status of a
  // JSON response comes after its body (key order is free), so it still follows the exit code.
  streaming_ = true;
  out_.assign(kJsonResponseHead);
  encoder_.append(body_, out_);
  writer_.write(out_);
  body_.clear();
  body_.shrink_to_fit();
}

void JsonFormat::call_finished(const Outcome& outcome) {
  std::unique_ptr<Call> done = std::move(call_);  // destroyed on return: the call has ended
  if (!outcome.ok()) log(Level::Warn, done->id(), "command %s", outcome.describe().c_str());
  Verdict v = verdict_for(outcome, trigger_);
  std::vector<Header> headers = fdk_headers_;
  if (v.fn_http_status != nullptr) headers.push_back({"Fn-Http-Status", v.fn_http_status});
  if (streaming_) {
    if (!v.output_is_body) {
      log(Level::Warn, done->id(),
          "the output was already streaming: it stays the body of the %d response", v.status);
    }
    out_.clear();
    encoder_.finish(out_);
    out_ += json_response_tail(v.status, cfg_.content_type, headers);
    writer_.write(out_);
  } else if (v.output_is_body) {
    writer_.write(json_response(body_, v.status, cfg_.content_type, headers));
  } else {
    writer_.write(json_response(v.message, v.status, kTextPlain, headers));
  }
  body_.clear();
  if (body_.capacity() > (64u << 10)) body_.shrink_to_fit();
  if (out_.capacity() > (64u << 10)) std::string().swap(out_);
  if (draining_) {
    shutdown_timer_.stop();
    stop(kExitStreamOk);
    return;
  }
  next_.start(microseconds(0));
}

void JsonFormat::next_frame() {
  if (stopping_) return;
  std::string rest = std::move(pending_);
  pending_.clear();
  reader_.start();
  split(rest);
  check_input_exhausted();
}

void JsonFormat::on_drained() {
  if (stopping_) {
    runner_.loop().stop(exit_code_);
    return;
  }
  if (output_paused_ && call_) {
    output_paused_ = false;
    call_->resume_output();
  }
}

void JsonFormat::on_write_error(int err) {
  // Nobody reads the answers any more: running the call on is of no use to anyone.
  log(Level::Error, {}, "cannot write to stdout: %s; stopping", std::strerror(err));
  call_.reset();
  stopping_ = true;
  runner_.loop().stop(kExitStreamBroken);
}

void JsonFormat::stop(int code) {
  if (stopping_) return;
  stopping_ = true;
  exit_code_ = code;
  reader_.stop();
  next_.stop();
  // The last responses may still be queued: the loop ends once they are written.
  if (writer_.queued() == 0) runner_.loop().stop(code);
}

void JsonFormat::on_signal(int signo) {
  if (signo != SIGTERM && signo != SIGINT) return;
  if (draining_) {
    log(Level::Info, {}, "second %s: stopping now", ::strsignal(signo));
    call_.reset();
    stop(kExitStreamOk);
    return;
  }
  draining_ = true;
  runner_.stop_prespawn();
  if (!call_) {
    stop(kExitStreamOk);
    return;
  }
  log(Level::Info, {}, "%s: answering the running call, then exiting", ::strsignal(signo));
  reader_.stop();
  shutdown_timer_.start(std::chrono::duration_cast<microseconds>(cfg_.shutdown_grace));
}

}  // namespace

std::unique_ptr<Contract> make_json_contract(Runner& runner) {
  return std::make_unique<JsonFormat>(runner);
}

}  // namespace hotwrap
