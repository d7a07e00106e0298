// Which platform this container serves, read from its environment, and the transport + protocol
// wired for it. The one place that knows every platform.
#pragma once

#include <expected>
#include <memory>
#include <optional>
#include <string>

#include "hotwrap/config.hpp"
#include "hotwrap/metrics.hpp"
#include "hotwrap/runner.hpp"
#include "protocols/protocol.hpp"

namespace hotwrap {

using Getenv = const char* (*)(const char*);

// A platform as the lifecycle drives it.
class Platform {
 public:
  virtual ~Platform() = default;
  // SIGTERM/SIGINT, first: tell the platform hotwrap is going (health checks fail) and say how
  // much longer new calls are still served, while the platform stops routing them here.
  virtual Millis begin_stopping() { return Millis(0); }
  // Then: take no new call, let the running ones finish; Lifecycle::done once idle.
  virtual void drain() = 0;
  // True when every signal is the command's to handle (the cold format: hotwrap is its init).
  virtual bool signals_are_the_commands() const { return false; }
};

struct PlatformChoice {
  enum class Kind { FnStream, FnJson, FnHttp, FnDefault, Http, Funker, Lambda };
  Kind kind = Kind::FnDefault;
  std::string listener;    // FnStream: FN_LISTENER
  uint16_t port = 0;       // Http, Funker: the TCP port
  std::string host;        // Lambda: the Runtime API's address (AWS_LAMBDA_RUNTIME_API)
  size_t concurrency = 1;  // Lambda: AWS_LAMBDA_MAX_CONCURRENCY
  // Lambda: the command cannot be run (the start-up check failed): the platform posts this to
  // /runtime/init/error and hotwrap exits with init_exit_code.
  std::string init_error;
  int init_exit_code = 0;
};

// The contract HOTWRAP_CONTRACT names, else the one the platform's environment gives away
// (AWS_LAMBDA_RUNTIME_API: lambda; FN_FORMAT or FN_LISTENER: fn; PORT, K_SERVICE or fprocess:
// http; nothing: Fn's cold default format), and its settings (FN_FORMAT, FN_LISTENER, the port).
// An error is one start-up line.
std::expected<PlatformChoice, std::string> choose_platform(Getenv getenv_fn, const Config& config);

// What the runner needs to know of the platform before any call (prespawn's variable names).
RunnerOptions runner_options_for(const PlatformChoice& choice);

// Sets up the transport and the protocol; from then on calls are served, started on `calls`
// (the runner, or the capture around it). An error is one start-up line. `metrics`: where the
// contract counts its requests (http_*), when metrics are served.
std::expected<std::unique_ptr<Platform>, std::string> start_platform(
    const PlatformChoice& choice, Runner& runner, CallStarter& calls, const Config& config,
    Lifecycle& life, Getenv getenv_fn, Registry* metrics = nullptr);

}  // namespace hotwrap
