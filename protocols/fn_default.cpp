// Fn's legacy default format, cold (spec §2.1): one call per container. The command runs once
// with hotwrap's own stdin, stdout and stderr (inherited: not one byte is copied), in the
// environment the agent gave the container, which already holds the call's FN_CALL_ID,
// FN_DEADLINE, FN_METHOD, FN_REQUEST_URL and FN_HEADER_* names. hotwrap exits with the command's
// exit code, as if it were not there; it adds the deadline and acts as the command's init.

#include <optional>
#include <string>

#include "hotwrap/call_id.hpp"
#include "hotwrap/log.hpp"
#include "protocols/protocol.hpp"

namespace hotwrap {

namespace {

class DefaultFormat final : public Protocol, private CallHandler {
 public:
  DefaultFormat(const FnContext& fn, Lifecycle& life, std::string call_id,
                std::optional<std::string> deadline);

  // Signals are the command's (the composition root forwards them): nothing to drain.
  void drain() override {}

 private:
  // Inherited streams never pass through hotwrap.
  void call_output(std::string_view) override {}
  void call_input_ready() override {}
  void call_finished(const Outcome& outcome) override;

  Lifecycle& life_;
  std::string call_id_;
  std::optional<std::string> deadline_text_;
  bool log_calls_;
  std::unique_ptr<CallControl> call_;
};

DefaultFormat::DefaultFormat(const FnContext& fn, Lifecycle& life, std::string call_id,
                             std::optional<std::string> deadline)
    : life_(life),
      call_id_(std::move(call_id)),
      deadline_text_(std::move(deadline)),
      log_calls_(fn.config.log_calls) {
  // Made here rather than by the runner, so that every line about the call carries it.
  if (call_id_.empty()) call_id_ = new_call_id();
  CallRequest request;
  request.meta.contract = "fn-default";
  request.id = call_id_;
  if (deadline_text_) {
    if (auto d = parse_rfc3339(*deadline_text_)) {
      request.deadline = *d;
      request.deadline_source = "FN_DEADLINE " + *deadline_text_;
    } else {
      log(Level::Warn, call_id_, "ignoring FN_DEADLINE: %s", d.error().c_str());
    }
  }
  // The environment passes through untouched: no name is added.
  request.stdio = StdioPlan{Stdio::Inherit, Stdio::Inherit, Stdio::Inherit};
  // No margin: a cold container has no answer of its own to send before the deadline, and the
  // agent's verdict when its own timer fires (504 "Timed out") is a better one for the caller
  // than the 502 "container exit code 124" an earlier exit would earn. So the command gets
  // SIGTERM HOTWRAP_KILL_GRACE_MS before FN_DEADLINE and SIGKILL at it.
  request.deadline_margin = Millis(0);
  request.answers = false;
  call_ = fn.calls.start(*this, std::move(request));
}

void DefaultFormat::call_finished(const Outcome& outcome) {
  std::unique_ptr<CallControl> done = std::move(call_);  // destroyed on return: the call ended
  int code = outcome.exit_code();
  if (outcome.timed_out()) {
    log(Level::Error, call_id_, "the command did not finish by FN_DEADLINE %s; exiting %d",
        deadline_text_.value_or("").c_str(), code);
  } else {
    // A failure the command reports itself: its exit code says it, as it would without hotwrap.
    // The summary line, as the hot formats log it (HOTWRAP_LOG_CALLS=1).
    auto us = outcome.stats.duration.count();
    log(log_calls_ ? Level::Info : Level::Debug, call_id_,
        "the command %s; exiting %d (%lld.%03lld ms)", outcome.describe().c_str(), code,
        static_cast<long long>(us / 1000), static_cast<long long>(us % 1000));
  }
  life_.done(code);
}

}  // namespace

std::unique_ptr<Protocol> make_fn_default(const FnContext& fn, Lifecycle& life, std::string call_id,
                                          std::optional<std::string> deadline) {
  return std::make_unique<DefaultFormat>(fn, life, std::move(call_id), std::move(deadline));
}

}  // namespace hotwrap
