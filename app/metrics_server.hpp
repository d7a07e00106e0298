// The metrics endpoint as the composition root wires it: a TCP listener on HOTWRAP_METRICS_PORT
// (by default 8081 in the http contract, where OpenFaaS's watchdogs serve theirs, and off in the
// others) serving the registry, the same for every contract.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "app/platform.hpp"
#include "hotwrap/config.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/metrics.hpp"
#include "transports/listener.hpp"

namespace hotwrap {

// The metrics port for this platform; 0: off.
uint16_t metrics_port(const PlatformChoice& choice, const Config& config);

class MetricsServer {
 public:
  // Listens and serves, or nullptr when metrics are off. The error (the port cannot be bound,
  // or is the one calls are served on) is one start-up line naming HOTWRAP_METRICS_PORT.
  static std::expected<std::unique_ptr<MetricsServer>, std::string> start(
      const PlatformChoice& choice, Loop& loop, const Config& config, const Registry& registry);

  MetricsServer(Loop& loop, UniqueFd fd, const Config& config, const Registry& registry);

 private:
  Listener listener_;
};

}  // namespace hotwrap
