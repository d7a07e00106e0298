// The metrics endpoint (HOTWRAP_METRICS_PORT): GET or HEAD /metrics answers the registry's
// series in Prometheus's text format; any other path is 404, another method on /metrics 405.
// It runs no command: a scrape costs the exposition and nothing else.
#pragma once

#include "hotwrap/config.hpp"
#include "hotwrap/metrics.hpp"
#include "transports/listener.hpp"

namespace hotwrap {

// The Content-Type of text format 0.0.4.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// One HTTP exchange per accepted connection of the metrics listener. `registry` and `config`
// (its request limits) must outlive the listener.
Listener::Factory metrics_connections(const Registry& registry, const Config& config);

}  // namespace hotwrap
