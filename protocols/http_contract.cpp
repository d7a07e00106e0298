#include "protocols/http_contract.hpp"

#include <cstdio>

#include "hotwrap/call_id.hpp"
#include "hotwrap/http_exchange.hpp"
#include "hotwrap/net.hpp"
#include "hotwrap/reply.hpp"
#include "protocols/cgi_env.hpp"
#include "protocols/trace_context.hpp"

namespace hotwrap {

namespace {

using std::chrono::microseconds;
using Clock = std::chrono::steady_clock;

// An id longer than this is not one (it would fill every log line): hotwrap makes its own.
constexpr size_t kMaxIdBytes = 128;

// "1.234567": what "%.6f" of the seconds prints, from the integer microseconds (every call's
// answer carries one; printf's floating-point path is the costlier part of formatting it).
std::string seconds_text(microseconds d) {
  long long us = d.count();
  if (us < 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(us) / 1e6);
    return buf;
  }
  std::string out = std::to_string(us / 1'000'000);
  char frac[8] = {'.'};
  long long f = us % 1'000'000;
  for (int i = 6; i >= 1; --i) {
    frac[i] = static_cast<char>('0' + f % 10);
    f /= 10;
  }
  out.append(frac, 7);
  return out;
}

bool is_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return !s.empty();
}

// Exit 0 → 200 with the output; the time limit → 504; cut short by shutdown → 503; any other
// failure (an exit status, a signal, a command that cannot run) → 500 naming it. While the output
// streams: 200, with the duration promised as a trailer. HOTWRAP_CGI=1: a call that did not fail
// answers with its CGI head's status and headers, straight.
Verdict http_verdict(const Outcome* o, const CgiHead* cgi, const std::string& id, const Config& c) {
  Verdict v;
  v.content_type = c.content_type;
  v.headers.push_back({"X-Call-Id", id});
  if (o == nullptr) {
    v.headers.push_back({"Trailer", "X-Duration-Seconds"});
    if (cgi != nullptr) put_cgi_head(v, *cgi);
    return v;
  }
  v.trailers.push_back({"X-Duration-Seconds", seconds_text(o->stats.duration)});
  if (o->ok()) {
    if (cgi != nullptr) put_cgi_head(v, *cgi);
    return v;
  }
  v.failed = true;
  v.output_is_body = false;
  v.message = failure_text(*o, c);
  v.status = o->timed_out() ? 504 : o->kind == Outcome::Kind::ShutDown ? 503 : 500;
  return v;
}

// Writes `x-foo-bar` as `X_Foo_Bar` (Go's canonical header name, `-` made `_`) to `to`, which has
// room for it; false, with `to` partly written, for a name with a byte a variable name cannot
// hold.
bool write_variable_part(char* to, std::string_view header) {
  bool upper = true;
  for (char c : header) {
    if (c == '-' || c == '_') {
      *to++ = '_';
      upper = true;
      continue;
    }
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && !(c >= '0' && c <= '9')) return false;
    if (alpha) c = upper ? static_cast<char>(c & ~0x20) : static_cast<char>(c | 0x20);
    *to++ = c;
    upper = false;
  }
  return true;
}

}  // namespace

Verdict http_call_verdict(const Outcome* outcome, const CgiHead* cgi, const std::string& id,
                          const Config& config) {
  return http_verdict(outcome, cgi, id, config);
}

std::string http_call_id(const RequestHead& head) {
  auto usable = [](const std::string* v) {
    return v != nullptr && !v->empty() && v->size() <= kMaxIdBytes;
  };
  if (const std::string* v = head.find("X-Call-Id"); usable(v)) return *v;
  if (const std::string* v = head.find("X-Request-Id"); usable(v)) return *v;
  // W3C: version-traceid-parentid-flags, the trace id 32 hex digits.
  if (const std::string* v = head.find("traceparent"); v != nullptr && v->size() >= 35 &&
                                                       (*v)[2] == '-' &&
                                                       is_hex(std::string_view(*v).substr(3, 32))) {
    return v->substr(3, 32);
  }
  // Google's legacy TRACE_ID/SPAN_ID;o=1.
  if (const std::string* v = head.find("X-Cloud-Trace-Context"); v != nullptr) {
    std::string_view t = std::string_view(*v).substr(0, v->find('/'));
    if (is_hex(t) && t.size() <= kMaxIdBytes) return std::string(t);
  }
  return {};
}

void add_http_request_env(CallEnv& env, const RequestHead& head) {
  env.add("Http_Method", head.method);
  env.add("Http_Path", head.path());
  if (auto q = head.url.find('?'); q != std::string::npos) {
    env.add("Http_Query", std::string_view(head.url).substr(q + 1));
  }
  constexpr std::string_view kPrefix = "Http_";
  char stack[128];  // a call has a dozen headers, their names short: no allocation for them
  std::string heap;
  for (const Header& h : head.headers) {
    // httpoxy: a `Proxy` header must never become a proxy setting, whatever it is named.
    if (iequals(h.name, "Proxy")) continue;
    size_t size = kPrefix.size() + h.name.size();
    char* name = stack;
    if (size > sizeof stack) {
      heap.resize(size);
      name = heap.data();
    }
    std::copy(kPrefix.begin(), kPrefix.end(), name);
    if (write_variable_part(name + kPrefix.size(), h.name)) {
      env.add(std::string_view(name, size), h.value);
    }
  }
}

// One accepted connection: owns the socket; one request at a time, kept alive as the caller
// wants.
class HttpConnection final : public Connection, private HttpExchange::Owner {
 public:
  HttpConnection(HttpService& service, UniqueFd fd, Listener& listener)
      : service_(service),
        listener_(listener),
        fd_(std::move(fd)),
        // Once per connection, and only when a call will read it.
        peer_(service.config_.cgi ? peer_address(fd_.get()) : HostPort{}),
        peer_port_(peer_.port != 0 ? std::to_string(peer_.port) : std::string()),
        exchange_(listener.loop(), service.calls_, service.config_, *this, fd_.get(), fd_.get(),
                  HttpExchange::Transport::Connection) {}
  ~HttpConnection() override { leave_flight(); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  void close_if_idle() override { exchange_.end_if_idle(); }
  bool closed() const override { return exchange_.ended(); }

 private:
  enum class Kind { Call, Check, Refusal };

  Route route(const RequestHead& head) override;
  Route check(const RequestHead& head, bool readiness);
  const std::vector<Header>& response_headers() const override { return no_headers_; }
  void answered(int status) override;
  void exchange_ended(HttpExchange&, HttpExchange::End, int) override {
    // A call whose caller went away is out of flight too, with no status.
    if (in_flight_) report(0);
    listener_.retire();
  }
  bool draining() const override { return listener_.draining(); }
  void report(int status);
  void leave_flight() {
    if (!in_flight_) return;
    in_flight_ = false;
    --service_.in_flight_;
  }

  HttpService& service_;
  Listener& listener_;
  UniqueFd fd_;
  const std::vector<Header> no_headers_;
  // The request being answered, for the metrics.
  Kind kind_ = Kind::Refusal;
  std::string method_;
  std::string call_id_;  // the current call's, for its status policy
  Clock::time_point started_;
  bool in_flight_ = false;
  HostPort peer_;  // HOTWRAP_CGI=1: REMOTE_ADDR and REMOTE_PORT
  std::string peer_port_;
  HttpExchange exchange_;  // declared last: gone (its call killed) before what it uses
};

Route HttpConnection::check(const RequestHead& h, bool readiness) {
  Route r;
  r.verbatim = true;
  if (h.method != "GET" && h.method != "HEAD") {
    r.reject = 405;
    r.message = "GET or HEAD only\n";
    r.headers.push_back({"Allow", "GET, HEAD"});
  } else if (service_.stopping()) {
    r.reject = 503;
    r.message = "shutting down\n";
  } else if (readiness && service_.full()) {
    r.reject = 429;
    r.message = "busy: HOTWRAP_MAX_INFLIGHT=" + std::to_string(service_.config_.max_inflight) +
                " calls in flight\n";
  } else {
    r.reject = 200;
    r.message = "OK";
  }
  return r;
}

Route HttpConnection::route(const RequestHead& h) {
  method_ = h.method;
  started_ = Clock::now();
  std::string_view path = h.path();
  if (path == "/_/health" || path == "/_/ready") {
    kind_ = Kind::Check;
    return check(h, path == "/_/ready");
  }
  Route r;
  if (service_.full()) {
    kind_ = Kind::Refusal;
    r.reject = 429;
    r.message = "Concurrent request limit exceeded. Max concurrent requests: " +
                std::to_string(service_.config_.max_inflight) + " (HOTWRAP_MAX_INFLIGHT)";
    return r;
  }
  kind_ = Kind::Call;
  in_flight_ = true;
  ++service_.in_flight_;
  if (service_.observer_ != nullptr) service_.observer_->call_started();
  CallRequest& call = r.request;
  call.meta.contract = "http";
  call.id = http_call_id(h);
  if (call.id.empty()) call.id = new_call_id();
  call.trace = http_trace_id(h);
  add_http_request_env(call.env, h);
  if (service_.config_.cgi) {
    add_cgi_request_env(call.env, {.method = h.method,
                                   .target = h.url,
                                   .headers = h.headers,
                                   .remote_addr = peer_.host,
                                   .remote_port = peer_port_});
  }
  // The policy reads the id from here (the connection outlives its exchange's reply): no copy
  // of it, and a closure small enough for std::function to hold without an allocation.
  call_id_.assign(call.id);
  r.policy = [this](const Outcome* o, const CgiHead* cgi) {
    return http_verdict(o, cgi, call_id_, service_.config_);
  };
  return r;
}

void HttpConnection::answered(int status) {
  report(status);
}

void HttpConnection::report(int status) {
  bool call = kind_ == Kind::Call;
  leave_flight();
  if (service_.observer_ != nullptr && kind_ != Kind::Check) {
    service_.observer_->request_finished(
        status, method_, std::chrono::duration_cast<microseconds>(Clock::now() - started_), call);
  }
  kind_ = Kind::Refusal;
}

Listener::Factory HttpService::connections() {
  return [this](UniqueFd fd, Listener& listener) -> std::unique_ptr<Connection> {
    return std::make_unique<HttpConnection>(*this, std::move(fd), listener);
  };
}

}  // namespace hotwrap
