#include "app/metrics_server.hpp"

#include <cerrno>

#include "hotwrap/log.hpp"
#include "hotwrap/net.hpp"
#include "protocols/metrics_endpoint.hpp"

namespace hotwrap {

namespace {
// OpenFaaS's watchdogs serve their metrics here; its Prometheus configuration scrapes it.
constexpr uint16_t kHttpContractMetricsPort = 8081;
}  // namespace

uint16_t metrics_port(const PlatformChoice& choice, const Config& config) {
  if (config.metrics_port >= 0) return static_cast<uint16_t>(config.metrics_port);
  return choice.kind == PlatformChoice::Kind::Http ? kHttpContractMetricsPort : 0;
}

std::expected<std::unique_ptr<MetricsServer>, std::string> MetricsServer::start(
    const PlatformChoice& choice, Loop& loop, const Config& config, const Registry& registry) {
  uint16_t port = metrics_port(choice, config);
  if (port == 0) return nullptr;
  std::string what = "HOTWRAP_METRICS_PORT=" + std::to_string(port);
  if (config.metrics_port < 0) what += " (the http contract's default)";
  if (choice.kind == PlatformChoice::Kind::Http && port == choice.port) {
    return std::unexpected(what +
                           " is the port calls are served on; choose another for the "
                           "metrics, or 0 to turn them off");
  }
  auto tcp = listen_tcp(port);
  if (!tcp) {
    return std::unexpected("cannot serve the metrics on " + what + ": " + tcp.error().describe() +
                           (tcp.error().err == EADDRINUSE
                                ? " (another process has it: choose another port with "
                                  "HOTWRAP_METRICS_PORT, or 0 to turn the metrics off)"
                                : ""));
  }
  log(Level::Info, {}, "serving metrics on port %u (GET /metrics)",
      static_cast<unsigned>(tcp->port));
  return std::make_unique<MetricsServer>(loop, std::move(tcp->fd), config, registry);
}

MetricsServer::MetricsServer(Loop& loop, UniqueFd fd, const Config& config,
                             const Registry& registry)
    // HOTWRAP_MAX_CONNECTIONS here too: the listener's line about the limit names it.
    : listener_(loop, std::move(fd), config.max_connections,
                metrics_connections(registry, config)) {
  listener_.start();
}

}  // namespace hotwrap
