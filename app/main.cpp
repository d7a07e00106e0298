// hotwrap: runs a legacy command once per call, in a container kept hot.
// The composition root: main reads the configuration, chooses the platform and wires the loop,
// runner, signals and lifecycle; everything that can fail before the loop fails here, with one
// line that says what, why and how to fix it.

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "app/about.hpp"
#include "app/command_check.hpp"
#include "app/config.hpp"
#include "app/lifecycle.hpp"
#include "app/metrics_server.hpp"
#include "app/platform.hpp"
#include "app/replay.hpp"
#include "hotwrap/capture.hpp"
#include "hotwrap/config.hpp"
#include "hotwrap/log.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/metrics.hpp"
#include "hotwrap/runner.hpp"
#include "hotwrap/signals.hpp"
#include "hotwrap/spawn.hpp"

extern char** environ;

namespace {

// A closed 0/1/2 would be reused by the next open()/pipe(), and a pipe end that lands on 0, 1 or
// 2 is later dup2()ed onto itself, which keeps close-on-exec: the child would lose that stream.
void ensure_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) {
      int null = ::open("/dev/null", O_RDWR);
      if (null >= 0 && null != fd) {
        ::dup2(null, fd);
        ::close(null);
      }
    }
  }
}

const char* env_lookup(const char* name) {
  return std::getenv(name);
}

}  // namespace

// libstdc++'s default terminate handler demangles the exception's type name for its message,
// which links the whole C++ demangler (about 47 KB) into the static binary. hotwrap lets no
// exception escape; should one ever reach terminate, aborting is all there is to do.
namespace __gnu_cxx {
void __verbose_terminate_handler() {
  std::abort();
}
}  // namespace __gnu_cxx

int main(int argc, char** argv) {
  using namespace hotwrap;
  // Buffers of 128 KiB and more (a large response, a body queue) get their own mappings and go
  // back to the kernel when freed. glibc's default threshold adapts upwards after the first big
  // free, after which such buffers stay in the heap and the idle RSS keeps what the largest call
  // needed.
  ::mallopt(M_MMAP_THRESHOLD, 128 << 10);
  // Before anything else: dispositions and timer slack as inherited (for the children), then our
  // own.
  capture_inherited_signal_state();
  widen_timer_slack();
  auto signal_fd = open_signal_fd();
  if (!signal_fd) {
    log(Level::Error, {}, "cannot set up signal handling: %s",
        signal_fd.error().describe().c_str());
    return 1;
  }
  ensure_standard_fds();

  auto parsed = parse_config(argc, argv, env_lookup);
  if (!parsed) {
    log(Level::Error, {}, "%s", parsed.error().c_str());
    return 2;
  }
  if (parsed->action == Action::Help) {
    write_all(STDOUT_FILENO, help_text());
    return 0;
  }
  if (parsed->action == Action::Version) {
    write_all(STDOUT_FILENO, version_text());
    return 0;
  }
  if (parsed->action == Action::Licenses) {
    write_all(STDOUT_FILENO, licenses_text());
    return 0;
  }
  const Config& config = parsed->config;
  set_log_level(config.log_level);
  // The project of the trace ids: hotwrap's variable, else the one Google's client libraries
  // read (Cloud Run does not set it: the image or the service does).
  const char* project = std::getenv("GOOGLE_CLOUD_PROJECT");
  set_log_format(config.log_format, !config.trace_project.empty() ? config.trace_project
                                    : project != nullptr          ? project
                                                                  : "");
  if (parsed->action == Action::Replay) {
    if (auto r = become_subreaper(); !r) {
      log(Level::Warn, {}, "cannot become a child subreaper (%s)", r.error().describe().c_str());
    }
    int code =
        run_replay({parsed->replay_dir, parsed->replay_update}, config, signal_fd->get(), environ);
    kill_remaining_children();
    return code;
  }
  for (const std::string& w : config_warnings(environ)) log(Level::Warn, {}, "%s", w.c_str());

  auto choice = choose_platform(env_lookup, config);
  if (!choice) {
    log(Level::Error, {}, "%s", choice.error().c_str());
    return 2;
  }
  // An image with a typo in its CMD, or a script whose interpreter is missing, must fail at
  // once and visibly, not on every call. Lambda is told too (/runtime/init/error) before the
  // exit, so the invocation says why instead of timing out.
  if (auto ok = check_command(config.command.front(), std::getenv("PATH")); !ok) {
    log(Level::Error, {}, "%s", ok.error().message.c_str());
    if (choice->kind != PlatformChoice::Kind::Lambda) return ok.error().exit_code;
    choice->init_error = ok.error().message;
    choice->init_exit_code = ok.error().exit_code;
  }

  if (auto r = become_subreaper(); !r) {
    log(Level::Warn, {}, "cannot become a child subreaper (%s); orphans of the command may linger",
        r.error().describe().c_str());
  }
  auto loop = Loop::create();
  if (!loop) {
    log(Level::Error, {}, "cannot create the event loop: %s", loop.error().describe().c_str());
    return 1;
  }
  // From here on log lines never block the loop (a stalled log reader must not stall calls);
  // whatever is still queued is written at every exit from here, before the loop goes.
  struct LogSinkScope {
    explicit LogSinkScope(Loop& l) { log_attach(l); }
    ~LogSinkScope() { log_detach(); }
    LogSinkScope(const LogSinkScope&) = delete;
    LogSinkScope& operator=(const LogSinkScope&) = delete;
  } log_sink(**loop);
  Reaper reaper;
  Registry metrics;
  RunnerOptions runner_options = runner_options_for(*choice);
  runner_options.metrics = &metrics;
  Runner runner(**loop, reaper, config, environ, std::move(runner_options));
  AppLifecycle life(**loop, runner, config);
  // Before the platform: a metrics port that cannot be had stops hotwrap before it announces
  // itself ready.
  auto metrics_server = MetricsServer::start(*choice, **loop, config, metrics);
  if (!metrics_server) {
    log(Level::Error, {}, "%s", metrics_server.error().c_str());
    return 2;
  }
  // HOTWRAP_CAPTURE_DIR: every call passes through the capture; otherwise it does not exist.
  std::optional<CaptureStarter> capture;
  if (!config.capture_dir.empty()) capture.emplace(**loop, runner, config);
  CallStarter& calls = capture ? static_cast<CallStarter&>(*capture) : runner;
  auto platform = start_platform(*choice, runner, calls, config, life, env_lookup,
                                 *metrics_server ? &metrics : nullptr);
  if (!platform) {
    log(Level::Error, {}, "%s", platform.error().c_str());
    return 2;
  }
  life.set_platform(platform->get());
  // From here on nothing exits: failures become responses, closed connections or log lines.
  Watch signals(**loop, signal_fd->get(), EV_READ, [&] {
    for (int sig : read_signals(signal_fd->get())) {
      if (sig == SIGCHLD) {
        reaper.reap();
      } else {
        life.on_signal(sig);
      }
    }
  });
  signals.start();
  reaper.reap();  // as PID 1 we may have inherited zombies before the signal was blocked
  int code = (*loop)->run();
  platform->reset();  // removes the socket files, kills anything still running
  // "Kill what is left" includes what escaped a call's process group (setsid daemons): as init or
  // subreaper they are hotwrap's children now, and must not outlive it.
  kill_remaining_children();
  return code;
}
