#include "protocols/metrics_endpoint.hpp"

#include "hotwrap/http_exchange.hpp"

namespace hotwrap {

namespace {

// Routes never start a call; HttpExchange wants a starter all the same.
class NoCalls final : public CallStarter {
 public:
  std::unique_ptr<CallControl> start(CallHandler&, CallRequest) override { return nullptr; }
};

class MetricsConnection final : public Connection, private HttpExchange::Owner {
 public:
  MetricsConnection(const Registry& registry, const Config& config, UniqueFd fd, Listener& listener)
      : registry_(registry),
        listener_(listener),
        fd_(std::move(fd)),
        exchange_(listener.loop(), no_calls_, config, *this, fd_.get(), fd_.get(),
                  HttpExchange::Transport::Connection) {}
  MetricsConnection(const MetricsConnection&) = delete;
  MetricsConnection& operator=(const MetricsConnection&) = delete;

  void close_if_idle() override { exchange_.end_if_idle(); }
  bool closed() const override { return exchange_.ended(); }

 private:
  Route route(const RequestHead& head) override {
    Route r;
    r.verbatim = true;
    if (head.path() != "/metrics") {
      r.reject = 404;
      r.message = "not found: the metrics are at /metrics\n";
    } else if (head.method != "GET" && head.method != "HEAD") {
      r.reject = 405;
      r.message = "GET or HEAD only\n";
      r.headers.push_back({"Allow", "GET, HEAD"});
    } else {
      r.reject = 200;
      r.message = registry_.expose();
      r.headers.push_back({"Content-Type", kMetricsContentType});
    }
    return r;
  }
  const std::vector<Header>& response_headers() const override { return no_headers_; }
  void exchange_ended(HttpExchange&, HttpExchange::End, int) override { listener_.retire(); }
  bool draining() const override { return listener_.draining(); }

  const Registry& registry_;
  Listener& listener_;
  UniqueFd fd_;
  const std::vector<Header> no_headers_;
  NoCalls no_calls_;
  HttpExchange exchange_;  // declared last: gone before what it uses
};

}  // namespace

Listener::Factory metrics_connections(const Registry& registry, const Config& config) {
  return [&registry, &config](UniqueFd fd, Listener& listener) -> std::unique_ptr<Connection> {
    return std::make_unique<MetricsConnection>(registry, config, std::move(fd), listener);
  };
}

}  // namespace hotwrap
