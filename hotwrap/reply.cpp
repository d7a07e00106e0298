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

void put_cgi_head(Verdict& v, const CgiHead& head) {
  v.status = head.status;
  v.headers.insert(v.headers.end(), head.headers.begin(), head.headers.end());
  if (!head.content_type.empty()) v.content_type = head.content_type;
  if (head.status == 204 || head.status == 304) {
    v.output_is_body = false;
    v.message.clear();
  }
}

Reply::Reply(Loop& loop, ReplyFraming& framing, const Config& config)
    : framing_(framing),
      hold_limit_(config.buffer_bytes),
      log_calls_(config.log_calls),
      capture_(!config.capture_dir.empty()),
      log_wait_(loop, [this] { log_drained(); }),
      cgi_(config.cgi),
      decoder_(config.max_header_bytes) {}

void Reply::begin(StatusPolicy policy, CallControl* call, bool http) {
  phase_ = Phase::Holding;
  policy_ = std::move(policy);
  if (capture_ && call != nullptr) {
    if (auto observe = call->verdict_observer()) {
      policy_ = [decide = std::move(policy_), observe = std::move(observe)](const Outcome* o,
                                                                            const CgiHead* cgi) {
        Verdict v = decide(o, cgi);
        if (o != nullptr) observe(v);
        return v;
      };
    }
  }
  call_ = call;
  paused_ = false;
  held_.clear();
  id_ = call != nullptr ? call->id() : std::string();
  head_pending_ = cgi_ && http;
  has_head_ = false;
  dropping_ = false;
  if (cgi_) decoder_.reset();
}

void Reply::output(std::string_view bytes) {
  if (phase_ == Phase::Streaming) {
    framing_.send_more(bytes);
  } else if (!dropping_) {
    held_.append(bytes);
    // Past the limit the status can no longer wait for the exit code; it never leaves before
    // the CGI head is decided (the decoder bounds what that holds).
    if ((!head_pending_ || decode_head(bytes)) && held_.size() > hold_limit_) commit();
  }
  if (framing_.queued() > kOutputHighWater && call_ != nullptr && !paused_) {
    paused_ = true;
    call_->pause_output();
  }
}

bool Reply::decode_head(std::string_view bytes) {
  switch (decoder_.feed(bytes)) {
    case CgiHeadDecoder::State::NeedMore: return false;
    case CgiHeadDecoder::State::NotCgi: break;
    case CgiHeadDecoder::State::Head:
      has_head_ = true;
      held_.erase(0, decoder_.head().body_offset);
      break;
    case CgiHeadDecoder::State::Broken:
      // The answer will be a failure whatever follows: the rest of the output is read (so the
      // command is not blocked) and dropped, and nothing is committed.
      dropping_ = true;
      held_.clear();
      break;
  }
  head_pending_ = false;
  return !dropping_;
}

const Outcome* Reply::judge(const Outcome& outcome) {
  if (head_pending_) {
    head_pending_ = false;
    if (decoder_.finish() == CgiHeadDecoder::State::Broken) {
      dropping_ = true;
      held_.clear();
    }
  }
  // The exit status counts first: a command that failed failed, whatever it printed.
  if (!dropping_ || !outcome.ok()) return &outcome;
  bad_ = outcome;
  bad_.kind = Outcome::Kind::BadOutput;
  bad_.problem = "wrote a broken CGI header block: " + decoder_.error();
  return &bad_;
}

void Reply::commit() {
  phase_ = Phase::Streaming;
  framing_.send_head(policy_(nullptr, head()), held_);
  held_.clear();
  held_.shrink_to_fit();  // the buffer may have been large; streaming needs none of it
}

void Reply::finish(const Outcome& outcome) {
  const Outcome* o = judge(outcome);
  Verdict v = policy_(o, head());
  log_summary(v, *o);
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
