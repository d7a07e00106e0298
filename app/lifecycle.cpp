#include "app/lifecycle.hpp"

#include <signal.h>

#include <cstring>

#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {
// After the shutdown grace, how long the calls' answers (503s) have to leave before hotwrap exits
// regardless.
constexpr std::chrono::milliseconds kAnswerSlack(1000);
}  // namespace

AppLifecycle::AppLifecycle(Loop& loop, Runner& runner, const Config& config)
    : loop_(loop),
      runner_(runner),
      config_(config),
      grace_(loop,
             [this] {
               log(Level::Warn, {},
                   "still not done %lld ms after HOTWRAP_SHUTDOWN_GRACE_MS=%lld; exiting",
                   static_cast<long long>(kAnswerSlack.count()),
                   static_cast<long long>(config_.shutdown_grace.count()));
               done(0);  // the platform goes with the loop, and its calls with it
             }),
      drain_timer_(loop, [this] { stop_serving(); }) {}

void AppLifecycle::on_signal(int signo) {
  if (platform_ == nullptr) return;
  if (platform_->signals_are_the_commands()) {
    runner_.forward_signal(signo);
    return;
  }
  if (signo != SIGTERM && signo != SIGINT) {
    runner_.forward_signal(signo);
    return;
  }
  if (draining_) {
    log(Level::Info, {}, "second %s: stopping now", ::strsignal(signo));
    done(0);
    return;
  }
  draining_ = true;
  Millis serve_on = platform_->begin_stopping();
  if (serve_on.count() > 0) {
    log(Level::Info, {},
        "%s: shutting down; new calls are still served for %lld ms (HOTWRAP_DRAIN_MS)",
        ::strsignal(signo), static_cast<long long>(serve_on.count()));
    drain_timer_.start(std::chrono::duration_cast<std::chrono::microseconds>(serve_on));
    return;
  }
  log(Level::Info, {}, "%s: shutting down", ::strsignal(signo));
  stop_serving();
}

void AppLifecycle::stop_serving() {
  runner_.stop_prespawn();
  // The calls end themselves within the grace (SIGTERM, then SIGKILL and a 503); the platform is
  // done once they are answered. This timer is the backstop, should an answer never drain.
  runner_.shut_down(config_.shutdown_grace);
  grace_.start(
      std::chrono::duration_cast<std::chrono::microseconds>(config_.shutdown_grace + kAnswerSlack));
  platform_->drain();
}

}  // namespace hotwrap
