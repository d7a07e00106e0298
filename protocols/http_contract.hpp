// The http contract: plain HTTP/1.1 as OpenFaaS's watchdogs, Knative and Cloud Run speak it. Any
// method and path runs the command, but for the reserved /_/health and /_/ready; the request's
// details reach the command as OpenFaaS names them (Http_Method, Http_Path, Http_Query,
// Http_<Header>); exit 0 → 200, a failure → 500, the time limit → 504, over
// HOTWRAP_MAX_INFLIGHT → 429; X-Call-Id and X-Duration-Seconds on every answer.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "hotwrap/config.hpp"
#include "hotwrap/env.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/reply.hpp"
#include "hotwrap/runner.hpp"
#include "transports/listener.hpp"

namespace hotwrap {

// Told of every request the contract answers (the metrics).
class HttpObserver {
 public:
  // A call was admitted and runs (in flight until request_finished).
  virtual void call_started() = 0;
  // A request was answered with `status` after `took`; `call` says whether it ran the command
  // (then it was in flight). Health and readiness checks are not reported.
  virtual void request_finished(int status, std::string_view method, std::chrono::microseconds took,
                                bool call) = 0;

 protected:
  ~HttpObserver() = default;
};

// How the contract answers a call that ended with `outcome` (nullptr: it streams), as its status
// policy decides (for `hotwrap replay`).
Verdict http_call_verdict(const Outcome* outcome, const CgiHead* cgi, const std::string& id,
                          const Config& config);

// The call's id: X-Call-Id, else X-Request-Id, else the trace id of traceparent or
// X-Cloud-Trace-Context; empty when the request carries none (hotwrap then makes one).
std::string http_call_id(const RequestHead& head);

// The command's variables for a request, as OpenFaaS's watchdogs name them: Http_Method,
// Http_Path, Http_Query (raw, without '?', when there is a query) and Http_<Header> for each
// header (`x-foo-bar` → Http_X_Foo_Bar, repeated values joined with ", "). A name that cannot be
// a variable is skipped; the core refuses Http_Proxy (httpoxy) and never replaces a set one.
void add_http_request_env(CallEnv& env, const RequestHead& head);

// The contract's state across connections: calls in flight, and whether hotwrap is stopping.
class HttpService {
 public:
  HttpService(CallStarter& calls, const Config& config, HttpObserver* observer = nullptr)
      : calls_(calls), config_(config), observer_(observer) {}
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  // One HTTP exchange per accepted connection.
  Listener::Factory connections();
  // SIGTERM: /_/health and /_/ready answer 503 from now on; calls are still served.
  void stop_announcing() { stopping_ = true; }
  bool stopping() const { return stopping_; }
  size_t in_flight() const { return in_flight_; }
  bool full() const { return config_.max_inflight != 0 && in_flight_ >= config_.max_inflight; }

 private:
  friend class HttpConnection;
  CallStarter& calls_;
  const Config& config_;
  HttpObserver* observer_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
};

}  // namespace hotwrap
