#include "app/lifecycle.hpp"

#include <signal.h>

#include <cstring>

#include "hotwrap/log.hpp"

namespace hotwrap {

AppLifecycle::AppLifecycle(Loop& loop, Runner& runner, const Config& config)
    : loop_(loop), runner_(runner), config_(config), grace_(loop, [this] {
        if (runner_.running() > 0) {
          log(Level::Warn, {}, "shutdown grace over (HOTWRAP_SHUTDOWN_GRACE_MS=%lld); killing the "
              "running call", static_cast<long long>(config_.shutdown_grace.count()));
        }
        done(0);  // the platform goes with the loop, and its calls with it
      }) {}

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
  log(Level::Info, {}, "%s: shutting down", ::strsignal(signo));
  runner_.stop_prespawn();
  grace_.start(std::chrono::duration_cast<std::chrono::microseconds>(config_.shutdown_grace));
  platform_->drain();
}

}  // namespace hotwrap
