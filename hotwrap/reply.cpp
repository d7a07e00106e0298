#include "hotwrap/reply.hpp"

#include "hotwrap/log.hpp"

namespace hotwrap {

std::string failure_text(const Outcome& outcome, const Config& config) {
  std::string text = "hotwrap: the command " + outcome.describe() + "\n";
  if (config.error_detail && !outcome.stderr_tail.empty()) {
    text += "the end of its stderr:\n" + outcome.stderr_tail + "\n";
  }
  return text;
}

namespace {
// Queued answer bytes above which the command's stdout is no longer read: a slow reader holds
// the command up instead of hotwrap's memory growing.
constexpr size_t kOutputHighWater = 256 * 1024;
// A held buffer larger than this is given back after its call, so the idle RSS does not keep
// what the largest call needed.
constexpr size_t kKeepCapacity = 64 * 1024;
// How long a whole answer waits for the call's log lines to leave a stalled log sink.
constexpr std::chrono::milliseconds kLogWait(200);
}  // namespace

Reply::Reply(Loop& loop, ReplyFraming& framing, const Config& config)
    : framing_(framing),
      hold_limit_(config.buffer_bytes),
      log_calls_(config.log_calls),
      capture_(!config.capture_dir.empty()),
      log_wait_(loop, [this] { log_drained(); }) {}

void Reply::begin(StatusPolicy policy, CallControl* call) {
  phase_ = Phase::Holding;
  policy_ = std::move(policy);
  if (capture_ && call != nullptr) {
    if (auto observe = call->verdict_observer()) {
      policy_ = [decide = std::move(policy_), observe = std::move(observe)](const Outcome* o) {
        Verdict v = decide(o);
        if (o != nullptr) observe(v);
        return v;
      };
    }
  }
  call_ = call;
  paused_ = false;
  held_.clear();
  id_ = call != nullptr ? call->id() : std::string();
}

void Reply::output(std::string_view bytes) {
  if (phase_ == Phase::Streaming) {
    framing_.send_more(bytes);
  } else {
    held_.append(bytes);
    // Past the limit the status can no longer wait for the exit code.
    if (held_.size() > hold_limit_) commit();
  }
  if (framing_.queued() > kOutputHighWater && call_ != nullptr && !paused_) {
    paused_ = true;
    call_->pause_output();
  }
}

void Reply::commit() {
  phase_ = Phase::Streaming;
  framing_.send_head(policy_(nullptr), held_);
  held_.clear();
  held_.shrink_to_fit();  // the buffer may have been large; streaming needs none of it
}

void Reply::finish(const Outcome& outcome) {
  Verdict v = policy_(&outcome);
  log_summary(v, outcome);
  if (phase_ == Phase::Holding && log_queued() > 0 && !outcome.timed_out()) {
    // The log reader is behind: the answer waits (bounded) for the lines that describe it.
    phase_ = Phase::Sending;
    pending_ = std::move(v);
    log_wait(this);
    log_wait_.start(kLogWait);
    return;
  }
  send(v);
}

void Reply::log_drained() {
  if (phase_ != Phase::Sending) return;
  log_wait_.stop();
  Verdict v = std::move(pending_);
  send(v);
}

void Reply::send(const Verdict& v) {
  if (phase_ == Phase::Streaming) {
    framing_.send_end(v);
  } else {
    framing_.send_whole(v, v.output_is_body ? std::string_view(held_) : v.message);
  }
  abandon();
  framing_.reply_sent();  // may start the next call's reply: nothing after it
}

void Reply::log_summary(const Verdict& v, const Outcome& o) const {
  Level level = v.failed ? Level::Warn : log_calls_ ? Level::Info : Level::Debug;
  if (!log_enabled(level)) return;
  const CallStats& s = o.stats;
  auto us = s.duration.count();
  log(level, id_, "%d: the command %s (%lld.%03lld ms, %llu B in, %llu B out%s%s)", v.status,
      o.describe().c_str(), static_cast<long long>(us / 1000), static_cast<long long>(us % 1000),
      static_cast<unsigned long long>(s.bytes_in), static_cast<unsigned long long>(s.bytes_out),
      s.prespawned ? ", prespawned" : "", phase_ == Phase::Streaming ? ", streamed" : "");
}

void Reply::drained() {
  if (paused_ && call_ != nullptr) {
    paused_ = false;
    call_->resume_output();
  }
}

void Reply::abandon() {
  log_wait_.stop();
  phase_ = Phase::Idle;
  call_ = nullptr;
  paused_ = false;
  policy_ = nullptr;
  held_.clear();
  if (held_.capacity() > kKeepCapacity) held_.shrink_to_fit();
}

}  // namespace hotwrap
