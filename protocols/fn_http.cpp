// Fn's legacy http format, hot, over hotwrap's stdin and stdout (spec §2.3): the agent writes
// HTTP/1.1 requests back to back on stdin and reads one response per request from stdout. The
// conversation itself is the one http-stream has on a socket (http_exchange), on a stream that
// has no connection to close: EOF on stdin means no more requests.

#include "protocols/fn_http.hpp"

#include <cstring>
#include <optional>

#include "hotwrap/call_id.hpp"
#include "hotwrap/log.hpp"
#include "protocols/protocol.hpp"

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

class HttpFormat final : public Protocol, private HttpExchange::Owner {
 public:
  HttpFormat(const FnContext& fn, Lifecycle& life, int in_fd, int out_fd)
      : fn_(fn),
        life_(life),
        exchange_(fn.loop, fn.calls, fn.config, *this, in_fd, out_fd,
                  HttpExchange::Transport::Stream) {}

  void drain() override {
    draining_ = true;
    if (exchange_.idle()) {
      exchange_.end_if_idle();
    } else {
      log(Level::Info, {}, "answering the running call, then exiting");
    }
  }

 private:
  Route route(const RequestHead& head) override {
    Route r = route_http_request(head, fn_.config);
    if (!fn_.logframe.header().empty()) {
      // stdout is the protocol here: the frame goes to stderr only.
      fn_.logframe.write(http_logframe_value(head, fn_.logframe.header()), false);
    }
    return r;
  }
  const std::vector<Header>& response_headers() const override { return fn_.fdk_headers; }
  void exchange_ended(HttpExchange& exchange, HttpExchange::End end, int err) override;
  bool draining() const override { return draining_; }

  const FnContext& fn_;
  Lifecycle& life_;
  HttpExchange exchange_;
  bool draining_ = false;
};

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
  life_.done(code);
}

}  // namespace

Route route_http_request(const RequestHead& head, const Config& config) {
  Route r;
  CallEnv& env = r.request.env;
  bool trigger = false;
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
    add_fn_header(env, h.name, h.value);
    if (iequals(h.name, "Fn-Call-Id") && alt_id.empty()) alt_id = h.value;
    if (iequals(h.name, "Fn-Deadline") && alt_deadline.empty()) alt_deadline = h.value;
    if (iequals(h.name, "Fn-Intent")) trigger = iequals(h.value, "httprequest");
  }
  if (id.empty()) id = alt_id;
  if (id.empty()) id = new_call_id();  // now, so that every line about the call carries it
  if (deadline.empty()) deadline = alt_deadline;
  std::optional<WallTime> when;
  if (!deadline.empty()) {
    if (auto d = parse_rfc3339(deadline)) {
      when = *d;
    } else {
      log(Level::Warn, id, "ignoring the deadline: %s", d.error().c_str());
    }
  }
  if (config.cgi) {
    // The agent's Fn_method and Fn_request_url are the caller's; the request line is its own.
    // Copied: adding to `env` may move what its find() points at.
    std::string method(env.find("FN_METHOD").value_or(head.method));
    std::string url(env.find("FN_REQUEST_URL").value_or(head.url));
    add_fn_cgi_env(env, head.headers, trigger, method, url);
  }
  r.request.id = std::move(id);
  r.request.meta.contract = "fn-http";
  r.request.deadline = when;
  r.request.deadline_source = "the deadline " + deadline;
  r.policy = fn_policy(trigger, config, FnCgi::Straight);
  return r;
}

std::string_view http_logframe_value(const RequestHead& head, std::string_view logframe_hdr) {
  if (const std::string* v = head.find(logframe_hdr)) return *v;
  if (iequals(logframe_hdr, "Fn-Call-Id")) {
    if (const std::string* v = head.find("Fn_call_id")) return *v;
  }
  return {};
}

std::unique_ptr<Protocol> make_fn_http(const FnContext& fn, Lifecycle& life, int in_fd,
                                       int out_fd) {
  return std::make_unique<HttpFormat>(fn, life, in_fd, out_fd);
}

}  // namespace hotwrap
