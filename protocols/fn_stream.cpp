// Fn http-stream: the agent speaks HTTP/1.1 on connections to a unix socket the container
// creates (the transport). Spec: POST /call per call, Fn-Call-Id / Fn-Deadline headers,
// 200 / 502 / 504 answers, the HTTP-trigger variant (Fn-Intent: httprequest) with the status
// inside Fn-Http-Status.

#include "protocols/protocol.hpp"

#include "hotwrap/call_id.hpp"
#include "hotwrap/http_exchange.hpp"
#include "hotwrap/log.hpp"
#include "protocols/fn_policy.hpp"

namespace hotwrap {

namespace {

// One accepted connection: owns the socket; the exchange on it serves one call at a time, kept
// alive for as long as the agent wants it.
class FnConnection final : public Connection, private HttpExchange::Owner {
 public:
  FnConnection(const FnContext& fn, UniqueFd fd, Listener& listener)
      : fn_(fn),
        listener_(listener),
        fd_(std::move(fd)),
        exchange_(fn.loop, fn.calls, fn.config, *this, fd_.get(), fd_.get(),
                  HttpExchange::Transport::Connection) {}

  void close_if_idle() override { exchange_.end_if_idle(); }
  bool closed() const override { return exchange_.ended(); }

 private:
  Route route(const RequestHead& head) override;
  const std::vector<Header>& response_headers() const override { return fn_.fdk_headers; }
  void exchange_ended(HttpExchange&, HttpExchange::End, int) override {
    // However it ended (the agent hung up, a bad request, a failed write), the connection is
    // done; the exchange has logged what deserved a line.
    listener_.retire();
  }
  bool draining() const override { return listener_.draining(); }

  const FnContext& fn_;
  Listener& listener_;
  UniqueFd fd_;
  HttpExchange exchange_;  // declared after fd_: gone (its call killed) before the socket closes
};

Route FnConnection::route(const RequestHead& h) {
  Route r;
  if (h.path() != "/call") {
    r.reject = 404;
    r.message = "only POST /call is served here";
    return r;
  }
  if (h.method != "POST") {
    r.reject = 405;
    r.message = "/call takes POST only";
    r.headers.push_back({"Allow", "POST"});
    return r;
  }
  CallRequest& call = r.request;
  call.meta.contract = "fn-http-stream";
  bool trigger = false;
  std::string deadline_error;
  for (const Header& hd : h.headers) {
    add_fn_header(call.env, hd.name, hd.value);
    if (iequals(hd.name, "Fn-Call-Id")) call.id = hd.value;
    if (iequals(hd.name, "Fn-Intent")) trigger = iequals(hd.value, "httprequest");
    if (iequals(hd.name, "Fn-Deadline")) {
      if (auto d = parse_rfc3339(hd.value)) {
        call.deadline = *d;
        call.deadline_source = "Fn-Deadline " + hd.value;
      } else {
        deadline_error = d.error();
      }
    }
  }
  // Made here rather than by the runner, so that every line about the call carries it.
  if (call.id.empty()) call.id = new_call_id();
  if (!deadline_error.empty()) {
    log(Level::Warn, call.id, "ignoring Fn-Deadline: %s", deadline_error.c_str());
  }
  if (fn_.config.cgi) {
    // The agent's own request is always POST /call: an invoke call has no URL of its caller's.
    add_fn_cgi_env(call.env, h.headers, trigger, h.method, "");
  }
  if (const std::string& hdr = fn_.logframe.header(); !hdr.empty()) {
    const std::string* v = h.find(hdr);
    fn_.logframe.write(v != nullptr ? *v : std::string_view(), true);
  }
  r.policy = fn_policy(trigger, fn_.config);
  return r;
}

}  // namespace

Listener::Factory fn_stream_connections(const FnContext& fn) {
  return [&fn](UniqueFd fd, Listener& listener) -> std::unique_ptr<Connection> {
    return std::make_unique<FnConnection>(fn, std::move(fd), listener);
  };
}

}  // namespace hotwrap
