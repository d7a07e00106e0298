// Fn's legacy http format, hot, over hotwrap's stdin and stdout (spec §2.3): the agent writes
// HTTP/1.1 requests back to back on stdin and reads one response per request from stdout. The
// conversation itself is the one http-stream has on a socket (http_exchange), on a stream that
// has no connection to close: EOF on stdin means no more requests.

#include "contracts/http.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "contracts/contract.hpp"
#include "contracts/stdio.hpp"
#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {

struct AgentHeader {
  const char* header;
  const char* env;
};
// What the agent adds to each request in this format (spec §2.3).
constexpr AgentHeader kAgentHeaders[] = {
    {"Fn_call_id", "FN_CALL_ID"},
    {"Fn_deadline", "FN_DEADLINE"},
    {"Fn_method", "FN_METHOD"},
    {"Fn_request_url", "FN_REQUEST_URL"},
};

class HttpFormat final : public Contract, private HttpExchange::Owner {
 public:
  explicit HttpFormat(Runner& runner);
  ~HttpFormat() override;

  std::expected<void, std::string> start() override;
  void on_signal(int signo) override;

 private:
  Route route(const RequestHead& head) override;
  void exchange_ended(HttpExchange& exchange, HttpExchange::End end, int err) override;
  bool draining() const override { return draining_; }

  Runner& runner_;
  StdioNonBlocking stdio_;  // declared first: the flags come back after the exchange is gone
  std::optional<HttpExchange> exchange_;
  Timer shutdown_timer_;
  bool draining_ = false;
};

HttpFormat::HttpFormat(Runner& runner)
    : runner_(runner), shutdown_timer_(runner.loop(), [this] {
        log(Level::Warn, {}, "shutdown grace over; killing the running call");
        runner_.loop().stop(kExitStreamOk);
      }) {}

HttpFormat::~HttpFormat() {
  exchange_.reset();  // kills a call still running
  runner_.stop_prespawn();
}

std::expected<void, std::string> HttpFormat::start() {
  if (auto r = stdio_.apply(); !r) return std::unexpected(r.error());
  if (stdio_.stderr_caught()) runner_.relay_stderr();  // the command gets a blocking stderr
  HttpExchange::Owner& owner = *this;  // a private base: converted here, where it is accessible
  exchange_.emplace(runner_, owner, STDIN_FILENO, STDOUT_FILENO, HttpExchange::Transport::Stream);
  runner_.enable_prespawn();
  return {};
}

Route HttpFormat::route(const RequestHead& head) {
  Route r = route_http_request(head, runner_.env());
  if (!runner_.logframe_header().empty()) {
    // stdout is the protocol here: the frame goes to stderr only.
    runner_.write_log_frame(http_logframe_value(head, runner_.logframe_header()), false);
  }
  return r;
}

void HttpFormat::exchange_ended(HttpExchange&, HttpExchange::End end, int err) {
  int code = kExitStreamBroken;
  switch (end) {
    case HttpExchange::End::Clean: code = kExitStreamOk; break;
    case HttpExchange::End::BadInput:
    case HttpExchange::End::ResponseAbandoned: break;  // logged by the exchange
    case HttpExchange::End::WriteFailed:
      log(Level::Error, {}, "cannot write to stdout: %s; stopping", std::strerror(err));
      break;
    case HttpExchange::End::ReadFailed:
      log(Level::Error, {}, "cannot read stdin: %s; stopping", std::strerror(err));
      break;
  }
  runner_.loop().stop(code);
}

void HttpFormat::on_signal(int signo) {
  if (signo != SIGTERM && signo != SIGINT) return;
  if (draining_) {
    log(Level::Info, {}, "second %s: stopping now", ::strsignal(signo));
    runner_.loop().stop(kExitStreamOk);
    return;
  }
  draining_ = true;
  runner_.stop_prespawn();
  if (!exchange_ || exchange_->idle()) {
    if (exchange_) {
      exchange_->end_if_idle();
    } else {
      runner_.loop().stop(kExitStreamOk);
    }
    return;
  }
  log(Level::Info, {}, "%s: answering the running call, then exiting", ::strsignal(signo));
  shutdown_timer_.start(
      std::chrono::duration_cast<std::chrono::microseconds>(runner_.config().shutdown_grace));
}

}  // namespace

Route route_http_request(const RequestHead& head, CallEnv& env) {
  env.clear();
  Route r;
  std::string id, alt_id, deadline, alt_deadline;
  for (const Header& h : head.headers) {
    const AgentHeader* agent = nullptr;
    for (const AgentHeader& a : kAgentHeaders) {
      if (iequals(h.name, a.header)) agent = &a;
    }
    if (agent != nullptr) {
      env.add(agent->env, h.value);
      if (agent == &kAgentHeaders[0] && id.empty()) id = h.value;
      if (agent == &kAgentHeaders[1] && deadline.empty()) deadline = h.value;
      continue;
    }
    env.add_header(h.name, h.value);
    if (iequals(h.name, "Fn-Call-Id") && alt_id.empty()) alt_id = h.value;
    if (iequals(h.name, "Fn-Deadline") && alt_deadline.empty()) alt_deadline = h.value;
    if (iequals(h.name, "Fn-Intent")) r.trigger = iequals(h.value, "httprequest");
  }
  if (id.empty()) id = alt_id;
  if (deadline.empty()) deadline = alt_deadline;
  std::optional<WallTime> when;
  if (!deadline.empty()) {
    if (auto d = parse_rfc3339(deadline)) {
      when = *d;
    } else {
      log(Level::Warn, id, "ignoring the deadline: %s", d.error().c_str());
    }
  }
  r.request = CallRequest{std::move(id), when, StdioPlan{}};
  return r;
}

std::string_view http_logframe_value(const RequestHead& head, std::string_view logframe_hdr) {
  if (const std::string* v = head.find(logframe_hdr)) return *v;
  if (iequals(logframe_hdr, "Fn-Call-Id")) {
    if (const std::string* v = head.find("Fn_call_id")) return *v;
  }
  return {};
}

std::unique_ptr<Contract> make_http_contract(Runner& runner) {
  return std::make_unique<HttpFormat>(runner);
}

}  // namespace hotwrap
