// The one reply path: hold, commit, stream, end — with a recording framing and a fake call.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hotwrap/reply.hpp"
#include "tests/support/fake_calls.hpp"

using namespace hotwrap;

namespace {

struct Recorder final : ReplyFraming {
  void send_whole(const Verdict& v, std::string_view body) override {
    log.push_back("whole " + std::to_string(v.status) + " " + std::string(body));
  }
  void send_head(const Verdict& v, std::string_view first) override {
    log.push_back("head " + std::to_string(v.status) + " " + std::string(first));
  }
  void send_more(std::string_view bytes) override { log.push_back("more " + std::string(bytes)); }
  void send_end(const Verdict& v) override {
    log.push_back(std::string("end ") + (v.failed ? "failed" : "ok"));
  }
  size_t queued() const override { return queue; }
  void reply_sent() override { log.push_back("sent"); }
  std::vector<std::string> log;
  size_t queue = 0;
};

struct NoHandler final : CallHandler {
  void call_output(std::string_view) override {}
  void call_input_ready() override {}
  void call_finished(const Outcome&) override {}
};

Config holding(uint64_t bytes) {
  Config c;
  c.buffer_bytes = bytes;
  return c;
}

Verdict policy(const Outcome* o, const CgiHead* /*cgi*/) {
  Verdict v;
  if (o == nullptr) v.status = 299;  // what streaming commits to
  if (o != nullptr && !o->ok()) {
    v.status = 502;
    v.output_is_body = false;
    v.message = "why";
    v.failed = true;
  }
  return v;
}

}  // namespace

TEST_CASE("reply: held up to the limit, the status follows the exit code") {
  Recorder r;
  const Config config = holding(4);
  auto loop = std::move(*Loop::create());
  Reply reply(*loop, r, config);
  reply.begin(policy, nullptr);
  reply.output("ab");
  reply.output("cd");
  CHECK_FALSE(reply.streaming());
  SUBCASE("success: the output is the body") {
    reply.finish({Outcome::Kind::Exited, 0});
    CHECK(r.log == std::vector<std::string>{"whole 200 abcd", "sent"});
  }
  SUBCASE("failure: the policy's message is") {
    reply.finish({Outcome::Kind::Exited, 1});
    CHECK(r.log == std::vector<std::string>{"whole 502 why", "sent"});
  }
  CHECK_FALSE(reply.active());
}

TEST_CASE("reply: past the limit it commits with the policy's running status and streams") {
  Recorder r;
  const Config config = holding(4);
  auto loop = std::move(*Loop::create());
  Reply reply(*loop, r, config);
  reply.begin(policy, nullptr);
  reply.output("abc");
  reply.output("de");
  CHECK(reply.streaming());
  reply.output("f");
  reply.finish({Outcome::Kind::Signaled, 9});
  CHECK(r.log == std::vector<std::string>{"head 299 abcde", "more f", "end failed", "sent"});
}

TEST_CASE("reply: a congested framing pauses the call, a drain resumes it") {
  Recorder r;
  NoHandler h;
  hotwrap::testing::FakeCalls calls;
  auto call = calls.start(h, CallRequest{});
  auto* fake = calls.current();
  const Config config = holding(0);
  auto loop = std::move(*Loop::create());
  Reply reply(*loop, r, config);
  reply.begin(policy, call.get());
  r.queue = 1 << 20;
  reply.output("x");
  CHECK(fake->paused);
  r.queue = 0;
  reply.drained();
  CHECK_FALSE(fake->paused);
  CHECK(reply.call_id().empty());
}
