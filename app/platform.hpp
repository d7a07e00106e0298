// Which platform this container serves, read from its environment, and the transport + protocol
// wired for it. The one place that knows every platform.
#pragma once

#include <expected>
#include <memory>
#include <optional>
#include <string>

#include "hotwrap/config.hpp"
#include "hotwrap/runner.hpp"
#include "protocols/protocol.hpp"

namespace hotwrap {

using Getenv = const char* (*)(const char*);

// A platform as the lifecycle drives it.
class Platform {
 public:
  virtual ~Platform() = default;
  // SIGTERM/SIGINT: take no new call, let the running ones finish; Lifecycle::done once idle.
  virtual void drain() = 0;
  // True when every signal is the command's to handle (the cold format: hotwrap is its init).
  virtual bool signals_are_the_commands() const { return false; }
};

struct PlatformChoice {
  enum class Kind { FnStream, FnJson, FnHttp, FnDefault };
  Kind kind = Kind::FnDefault;
  std::string listener;  // FnStream: FN_LISTENER
};

// Reads FN_FORMAT and FN_LISTENER. An error is one start-up line.
std::expected<PlatformChoice, std::string> choose_platform(Getenv getenv_fn);

// What the runner needs to know of the platform before any call (prespawn's variable names).
RunnerOptions runner_options_for(const PlatformChoice& choice);

// Sets up the transport and the protocol; from then on calls are served. An error is one
// start-up line.
std::expected<std::unique_ptr<Platform>, std::string> start_platform(const PlatformChoice& choice,
                                                                     Runner& runner,
                                                                     const Config& config,
                                                                     Lifecycle& life,
                                                                     Getenv getenv_fn);

}  // namespace hotwrap
