// Fn's legacy default format, cold (spec §2.1): one call per container. The command runs once
// with hotwrap's own stdin, stdout and stderr (inherited: not one byte is copied), in the
// environment the agent gave the container, which already holds the call's FN_CALL_ID,
// FN_DEADLINE, FN_METHOD, FN_REQUEST_URL and FN_HEADER_* names. hotwrap exits with the command's
// exit code, as if it were not there; it adds the deadline and acts as the command's init.

#include <signal.h>

#include <optional>
#include <string>

#include "contracts/contract.hpp"
#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {

class DefaultFormat final : public Contract, private CallHandler {
 public:
  DefaultFormat(Runner& runner, std::string call_id, std::optional<std::string> deadline)
      : runner_(runner), call_id_(std::move(call_id)), deadline_text_(std::move(deadline)) {}

  std::expected<void, std::string> start() override;
  void on_signal(int signo) override;

 private:
  // Inherited streams never pass through hotwrap.
  void call_output(std::string_view) override {}
  void call_input_ready() override {}
  void call_finished(const Outcome& outcome) override;

  Runner& runner_;
  std::string call_id_;
  std::optional<std::string> deadline_text_;
  std::unique_ptr<Call> call_;
};

std::expected<void, std::string> DefaultFormat::start() {
  std::optional<WallTime> deadline;
  if (deadline_text_) {
    if (auto d = parse_rfc3339(*deadline_text_)) {
      deadline = *d;
    } else {
      log(Level::Warn, call_id_, "ignoring FN_DEADLINE: %s", d.error().c_str());
    }
  }
  // The environment passes through untouched: no name is added.
  runner_.env().clear();
  // No margin: a cold container has no answer of its own to send before the deadline, and the
  // agent's verdict when its own timer fires (504 "Timed out") is a better one for the caller
  // than the 502 "container exit code 124" an earlier exit would earn. So the command gets
  // SIGTERM HOTWRAP_KILL_GRACE_MS before FN_DEADLINE and SIGKILL at it.
  call_ = runner_.start(
      *this, CallRequest{call_id_, deadline,
                         StdioPlan{Stdio::Inherit, Stdio::Inherit, Stdio::Inherit}, Millis(0)});
  return {};
}

void DefaultFormat::call_finished(const Outcome& outcome) {
  std::unique_ptr<Call> done = std::move(call_);  // destroyed on return: the call has ended
  int code = outcome.exit_code();
  if (outcome.kind == Outcome::Kind::TimedOut) {
    log(Level::Error, call_id_, "the command did not finish by FN_DEADLINE %s; exiting %d",
        deadline_text_.value_or("").c_str(), code);
  } else {
    // A failure the command reports itself: its exit code says it, as it would without hotwrap.
    log(Level::Debug, call_id_, "the command %s; exiting %d", outcome.describe().c_str(), code);
  }
  runner_.loop().stop(code);
}

void DefaultFormat::on_signal(int signo) {
  // As an init does: the command decides what a signal means; hotwrap ends when it ends.
  if (call_) call_->forward_signal(signo);
}

}  // namespace

std::unique_ptr<Contract> make_default_contract(Runner& runner, std::string call_id,
                                                std::optional<std::string> deadline) {
  return std::make_unique<DefaultFormat>(runner, std::move(call_id), std::move(deadline));
}

}  // namespace hotwrap
