// hotwrap's life once the loop runs: the signals a platform sends, the shutdown grace, the second
// signal, and the exit code. The one place that stops the loop.
#pragma once

#include "app/platform.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/runner.hpp"

namespace hotwrap {

class AppLifecycle final : public Lifecycle {
 public:
  AppLifecycle(Loop& loop, Runner& runner, const Config& config);

  // The platform to drive; set once it has started.
  void set_platform(Platform* platform) { platform_ = platform; }

  // A signal other than SIGCHLD reached hotwrap.
  //  - SIGTERM/SIGINT: the platform learns hotwrap is going and may keep serving new calls a
  //    while (the http contract's HOTWRAP_DRAIN_MS); then no new call, and the running ones get
  //    the shutdown grace, then are killed. A second one stops at once.
  //  - SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2: passed on to every running call's command (a platform
  //    that means the function, e.g. a reload, reaches it).
  //  - In the cold format every signal is the command's.
  void on_signal(int signo);

  void done(int exit_code) override { loop_.stop(exit_code); }

 private:
  void stop_serving();

  Loop& loop_;
  Runner& runner_;
  const Config& config_;
  Platform* platform_ = nullptr;
  Timer grace_;
  Timer drain_timer_;
  bool draining_ = false;
};

}  // namespace hotwrap
