// A CallStarter whose calls run no process: the test (or fuzzer) plays the command, feeding its
// output and its end to the protocol, and reads what the protocol fed it. The seam for driving a
// protocol's exchanges without spawning.
#pragma once

#include <deque>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/http_exchange.hpp"
#include "hotwrap/reply.hpp"
#include "hotwrap/runner.hpp"

namespace hotwrap::testing {

// A plain status policy for exchanges driven by fake calls: 200 with the output; a failure is
// 502 (504 at a deadline) with a short message.
inline Verdict plain_policy(const Outcome* o, const CgiHead* /*cgi*/) {
  Verdict v;
  v.content_type = "text/plain";
  if (o != nullptr && !o->ok()) {
    v.status = o->timed_out() ? 504 : 502;
    v.output_is_body = false;
    v.message = "failed\n";
    v.failed = true;
  }
  return v;
}

// The protocol side of an HttpExchange under test: `/no` is refused with 404, any other request
// is a call decided by plain_policy; it records how the exchange ended.
struct TestOwner final : HttpExchange::Owner {
  Route route(const RequestHead& head) override {
    heads.push_back(head.method == "HEAD");
    Route r;
    if (head.path() == "/no") {
      r.reject = 404;
      r.message = "not here";
      return r;
    }
    r.request.id = "id" + std::to_string(++routed);
    r.policy = plain_policy;
    return r;
  }
  const std::vector<Header>& response_headers() const override { return common; }
  void exchange_ended(HttpExchange&, HttpExchange::End end, int) override {
    ended = true;
    how = end;
  }
  bool draining() const override { return drain; }

  std::vector<Header> common = {{"X-Common", "1"}};
  int routed = 0;
  // For each request routed, in order, whether it was a HEAD (its answer has no body).
  std::deque<bool> heads;
  bool ended = false;
  HttpExchange::End how = HttpExchange::End::Clean;
  bool drain = false;
};

class FakeCalls;

class FakeCall final : public CallControl {
 public:
  FakeCall(FakeCalls& owner, CallHandler& handler, CallRequest request);
  ~FakeCall() override;

  void feed(std::span<const std::string_view> pieces) override {
    for (std::string_view p : pieces) input.append(p);
  }
  using CallControl::feed;
  void end_input() override { input_ended = true; }
  bool input_congested() const override { return congested; }
  void pause_output() override { paused = true; }
  void resume_output() override { paused = false; }
  const std::string& id() const override { return request.id; }

  // The command writes to stdout.
  void output(std::string_view bytes) { handler_.call_output(bytes); }
  // The command ends; the protocol may destroy this call inside.
  void finish(Outcome outcome) {
    finished_ = true;
    handler_.call_finished(outcome);
  }
  // The stdin queue emptied.
  void input_ready() {
    congested = false;
    handler_.call_input_ready();
  }

  CallRequest request;
  std::string input;
  bool input_ended = false;
  bool congested = false;  // set by the test: the command is behind on its stdin
  bool paused = false;

 private:
  FakeCalls& owner_;
  CallHandler& handler_;
  bool finished_ = false;
};

class FakeCalls final : public CallStarter {
 public:
  std::unique_ptr<CallControl> start(CallHandler& handler, CallRequest request) override {
    auto c = std::make_unique<FakeCall>(*this, handler, std::move(request));
    live.push_back(c.get());
    ++started;
    return c;
  }
  // The newest call still alive, or nullptr.
  FakeCall* current() const { return live.empty() ? nullptr : live.back(); }

  std::vector<FakeCall*> live;
  int started = 0;
  int killed = 0;  // destroyed before their end: what a real call's process group would suffer
};

inline FakeCall::FakeCall(FakeCalls& owner, CallHandler& handler, CallRequest req)
    : request(std::move(req)), owner_(owner), handler_(handler) {}

inline FakeCall::~FakeCall() {
  if (!finished_) ++owner_.killed;
  std::erase(owner_.live, this);
}

}  // namespace hotwrap::testing
