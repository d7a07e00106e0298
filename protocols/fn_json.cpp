// Fn's legacy json format, hot, over a byte stream (hotwrap's stdin and stdout, spec §2.2): JSON
// request objects back to back on the input, one call each, strictly in order; one compact JSON
// response object and a newline per call on the output. The output is the protocol: logs and log
// frames go to stderr only.

#include <cstring>
#include <string>
#include <vector>

#include "hotwrap/log.hpp"
#include "hotwrap/reply.hpp"
#include "hotwrap/stream.hpp"
#include "protocols/json.hpp"
#include "protocols/protocol.hpp"

namespace hotwrap {

namespace {

using std::chrono::microseconds;

// Input read ahead while a call runs; past it the input is not read until the call is answered.
constexpr size_t kPendingLimit = 64 * 1024;

class JsonFormat final : public Protocol, private CallHandler, private ReplyFraming {
 public:
  JsonFormat(const FnContext& fn, Lifecycle& life, int in_fd, int out_fd);
  ~JsonFormat() override;

  void drain() override;

 private:
  void on_input(std::string_view bytes);
  void on_input_end(int err);
  void split(std::string_view in);
  void begin_call();
  void refuse(int status, const std::string& message);
  void call_output(std::string_view bytes) override { reply_.output(bytes); }
  void call_input_ready() override {}  // the body is handed over whole: nothing waits on it
  void call_finished(const Outcome& outcome) override;
  // The JSON framing: `{"body":"` + the output as a JSON string + the tail with the status,
  // which can follow a body already streamed (key order is free in JSON).
  void send_whole(const Verdict& v, std::string_view body) override;
  void send_head(const Verdict& v, std::string_view first) override;
  void send_more(std::string_view bytes) override;
  void send_end(const Verdict& v) override;
  size_t queued() const override { return writer_.queued(); }
  void reply_sent() override;
  std::vector<Header> headers_of(const Verdict& v) const;
  void next_frame();
  // A call runs, its answer waits to be sent, or the next request is due.
  bool busy() const { return call_ || reply_.active() || next_.active(); }
  void check_input_exhausted();
  void on_drained();
  void on_write_error(int err);
  void stop(int code);

  const FnContext& fn_;
  const Config& cfg_;
  Lifecycle& life_;
  FdReader reader_;
  FdWriter writer_;
  JsonFrameSplitter splitter_;
  Reply reply_;
  Timer next_;  // starts the next request outside the previous call's callbacks
  std::unique_ptr<CallControl> call_;
  std::string pending_;  // input read while a call runs, not split yet
  std::string out_;      // reused for encoded output
  JsonStringEncoder encoder_;
  bool input_ended_ = false;
  bool draining_ = false;  // no new call; done once the running one is answered
  bool stopping_ = false;
  int exit_code_ = kExitStreamOk;
};

JsonFormat::JsonFormat(const FnContext& fn, Lifecycle& life, int in_fd, int out_fd)
    : fn_(fn),
      cfg_(fn.config),
      life_(life),
      reader_(
          fn.loop, in_fd, [this](std::string_view b) { on_input(b); },
          [this](int err) { on_input_end(err); }),
      writer_(
          fn.loop, out_fd, [this] { on_drained(); }, [this](int err) { on_write_error(err); }),
      splitter_(json_frame_limit(cfg_.max_body_bytes, cfg_.max_header_bytes)),
      reply_(fn.loop, *this, cfg_),
      next_(fn.loop, [this] { next_frame(); }) {
  reader_.start();
}

JsonFormat::~JsonFormat() {
  call_.reset();  // kills a call still running, before the streams it writes to go
}

void JsonFormat::on_input(std::string_view bytes) {
  if (busy() || !pending_.empty()) {
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
  if (!input_ended_ || stopping_ || busy() || !pending_.empty()) return;
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
      // Garbage between or inside objects: where the next request begins cannot be known, and
      // guessing could run a call on half of someone else's body. A request that began is still
      // answered, so the agent waiting for it learns why.
      std::string why = splitter_.error_message();
      log(Level::Error, {}, "%s; stopping (no request boundary to resume from)", why.c_str());
      if (splitter_.error() == JsonFrameSplitter::Error::Invalid) {
        writer_.write(json_response("hotwrap: " + why + "\n", 502, kTextPlain, fn_.fdk_headers));
      }
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
  auto call = map_json_request(splitter_.frame(), splitter_.frame_offset(), fn_.logframe.header(),
                               cfg_.max_body_bytes, cfg_.cgi);
  if (!call) {
    refuse(call.error().status, call.error().message);
    return;
  }
  fn_.logframe.write(call->logframe_value, false);
  encoder_ = JsonStringEncoder();
  CallRequest request;
  request.id = std::move(call->id);
  request.meta.contract = "fn-json";
  request.deadline = call->deadline;
  request.deadline_source = "the deadline " + call->deadline_text;
  request.env = std::move(call->env);
  if (cfg_.cgi) {
    // The frame's content_type is the request's, when its headers do not repeat it.
    auto type = request.env.find("FN_CONTENT_TYPE");
    if (type && find_header(call->headers, "Content-Type") == nullptr) {
      call->headers.push_back({"Content-Type", std::string(*type)});
    }
    add_fn_cgi_env(request.env, call->headers, call->trigger, call->method, call->url,
                   call->body.size());
  }
  call_ = fn_.calls.start(*this, std::move(request));
  reply_.begin(fn_policy(call->trigger, cfg_, FnCgi::Straight), call_.get());
  call_->feed(call->body);
  call_->end_input();
}

void JsonFormat::refuse(int status, const std::string& message) {
  // The frame's end is known, so one error object answers it and the next frame is served.
  log(Level::Warn, {}, "%s", message.c_str());
  writer_.write(json_response("hotwrap: " + message + "\n", status, kTextPlain, fn_.fdk_headers));
}

std::vector<Header> JsonFormat::headers_of(const Verdict& v) const {
  std::vector<Header> headers = fn_.fdk_headers;
  headers.insert(headers.end(), v.headers.begin(), v.headers.end());
  return headers;
}

void JsonFormat::send_whole(const Verdict& v, std::string_view body) {
  writer_.write(
      json_response(body, v.status, v.output_is_body ? v.content_type : kTextPlain, headers_of(v)));
}

void JsonFormat::send_head(const Verdict&, std::string_view first) {
  // Unlike an HTTP status line, the status of a JSON response comes after its body, so it still
  // follows the exit code.
  out_.assign(kJsonResponseHead);
  encoder_.append(first, out_);
  writer_.write(out_);
}

void JsonFormat::send_more(std::string_view bytes) {
  out_.clear();
  encoder_.append(bytes, out_);
  writer_.write(out_);
}

void JsonFormat::send_end(const Verdict& v) {
  if (!v.output_is_body) {
    log(Level::Warn, reply_.call_id(),
        "the output was already streaming: it stays the body of the %d response", v.status);
  }
  out_.clear();
  encoder_.finish(out_);
  out_ += json_response_tail(v.status, v.content_type, headers_of(v));
  writer_.write(out_);
}

void JsonFormat::call_finished(const Outcome& outcome) {
  std::unique_ptr<CallControl> done = std::move(call_);  // destroyed on return: the call ended
  reply_.finish(outcome);  // reply_sent() follows, now or once the call's log lines are out
}

void JsonFormat::reply_sent() {
  if (out_.capacity() > (64u << 10)) std::string().swap(out_);
  if (draining_) {
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
    life_.done(exit_code_);
    return;
  }
  reply_.drained();
}

void JsonFormat::on_write_error(int err) {
  // Nobody reads the answers any more: running the call on is of no use to anyone.
  log(Level::Error, {}, "cannot write to stdout: %s; stopping", std::strerror(err));
  call_.reset();
  stopping_ = true;
  life_.done(kExitStreamBroken);
}

void JsonFormat::stop(int code) {
  if (stopping_) return;
  stopping_ = true;
  exit_code_ = code;
  reader_.stop();
  next_.stop();
  // The last responses may still be queued: done once they are written.
  if (writer_.queued() == 0) life_.done(code);
}

void JsonFormat::drain() {
  draining_ = true;
  if (!call_ && !reply_.active()) {
    stop(kExitStreamOk);
    return;
  }
  log(Level::Info, {}, "answering the running call, then exiting");
  reader_.stop();
}

}  // namespace

std::unique_ptr<Protocol> make_fn_json(const FnContext& fn, Lifecycle& life, int in_fd,
                                       int out_fd) {
  return std::make_unique<JsonFormat>(fn, life, in_fd, out_fd);
}

}  // namespace hotwrap
