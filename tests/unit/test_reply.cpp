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

namespace {

Config cgi_holding(uint64_t bytes) {
  Config c = holding(bytes);
  c.cgi = true;
  c.max_header_bytes = 64;
  return c;
}

// Puts the head straight on the answer, as a plain HTTP protocol does, and records what it saw:
// the outcome ("running" while streaming) and the head's status.
StatusPolicy seeing(std::vector<std::string>& seen) {
  return [&seen](const Outcome* o, const CgiHead* h) {
    seen.push_back((o != nullptr ? o->describe() : std::string("running")) +
                   (h != nullptr ? " / head " + std::to_string(h->status) : " / no head"));
    Verdict v;
    if (o != nullptr && !o->ok()) {
      v.status = 502;
      v.output_is_body = false;
      v.message = o->describe();
      v.failed = true;
    } else if (h != nullptr) {
      put_cgi_head(v, *h);
    }
    return v;
  };
}

}  // namespace

TEST_CASE("reply cgi: no status leaves before the head is decided, then the body streams") {
  Recorder r;
  const Config config = cgi_holding(0);  // stream from the first byte of the body
  auto loop = std::move(*Loop::create());
  Reply reply(*loop, r, config);
  std::vector<std::string> seen;
  reply.begin(seeing(seen), nullptr);
  for (std::string_view piece : {"Status: 40", "4 Nope\r\nX: 1\r", "\n\r"}) {
    reply.output(piece);
    CHECK_FALSE(reply.streaming());
    CHECK(r.log.empty());
  }
  reply.output("\nbo");
  CHECK(reply.streaming());
  reply.output("dy");
  reply.finish({Outcome::Kind::Exited, 0});
  CHECK(r.log == std::vector<std::string>{"head 404 bo", "more dy", "end ok", "sent"});
  CHECK(seen == std::vector<std::string>{"running / head 404", "exited with status 0 / head 404"});
}

TEST_CASE("reply cgi: a held answer") {
  Recorder r;
  const Config config = cgi_holding(1024);
  auto loop = std::move(*Loop::create());
  Reply reply(*loop, r, config);
  std::vector<std::string> seen;
  reply.begin(seeing(seen), nullptr);
  SUBCASE("the head is taken off the body") {
    reply.output("Content-Type: a/b\n");
    reply.output("\nhello");
    reply.finish({Outcome::Kind::Exited, 0});
    CHECK(r.log == std::vector<std::string>{"whole 200 hello", "sent"});
    CHECK(seen == std::vector<std::string>{"exited with status 0 / head 200"});
  }
  SUBCASE("output with no head is the body, whole") {
    reply.output("olleH\nStatus: 404\n\n");
    reply.finish({Outcome::Kind::Exited, 0});
    CHECK(r.log == std::vector<std::string>{"whole 200 olleH\nStatus: 404\n\n", "sent"});
    CHECK(seen == std::vector<std::string>{"exited with status 0 / no head"});
  }
  SUBCASE("output that ends undecided: no header line began, so it is the body") {
    reply.output("abc");
    reply.finish({Outcome::Kind::Exited, 0});
    CHECK(r.log == std::vector<std::string>{"whole 200 abc", "sent"});
  }
  SUBCASE("a head that never ends is broken") {
    reply.output("X: 1\n");
    reply.finish({Outcome::Kind::Exited, 0});
    CHECK(r.log == std::vector<std::string>{
                       "whole 502 wrote a broken CGI header block: it has no end: the output "
                       "ended before its blank line",
                       "sent"});
  }
  SUBCASE("the exit status counts: a head with a non-zero exit is a failure") {
    reply.output("Status: 201\n\nmade");
    reply.finish({Outcome::Kind::Exited, 4});
    CHECK(r.log == std::vector<std::string>{"whole 502 exited with status 4", "sent"});
    CHECK(seen == std::vector<std::string>{"exited with status 4 / head 201"});
  }
}

TEST_CASE("reply cgi: a broken head fails the call and its output is dropped, never streamed") {
  Recorder r;
  const Config config = cgi_holding(4);
  auto loop = std::move(*Loop::create());
  Reply reply(*loop, r, config);
  std::vector<std::string> seen;
  reply.begin(seeing(seen), nullptr);
  reply.output("X: 1\nnot a header\n\n");
  reply.output(std::string(1 << 16, 'x'));  // far past the hold limit
  CHECK_FALSE(reply.streaming());
  SUBCASE("exit 0: the broken head is the failure") {
    reply.finish({Outcome::Kind::Exited, 0});
    CHECK(r.log == std::vector<std::string>{"whole 502 wrote a broken CGI header block: line 2 "
                                            "has no ':' after a header name",
                                            "sent"});
    CHECK(seen == std::vector<std::string>{
                      "wrote a broken CGI header block: line 2 has no ':' after a header name / "
                      "no head"});
  }
  SUBCASE("a failed exit stays the reason") {
    reply.finish({Outcome::Kind::Signaled, 9});
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].starts_with("killed by signal 9"));
  }
  SUBCASE("the next call starts over") {
    reply.finish({Outcome::Kind::Exited, 0});
    r.log.clear();
    reply.begin(seeing(seen), nullptr);
    reply.output("Status: 404\n\nno");
    reply.finish({Outcome::Kind::Exited, 0});
    CHECK(r.log == std::vector<std::string>{"whole 404 no", "sent"});
  }
}

TEST_CASE("reply cgi: a head over HOTWRAP_MAX_HEADER_BYTES is broken") {
  Recorder r;
  const Config config = cgi_holding(1 << 20);
  auto loop = std::move(*Loop::create());
  Reply reply(*loop, r, config);
  std::vector<std::string> seen;
  reply.begin(seeing(seen), nullptr);
  reply.output("X: " + std::string(100, 'v') + "\n\n");
  reply.finish({Outcome::Kind::Exited, 0});
  CHECK(r.log == std::vector<std::string>{
                     "whole 502 wrote a broken CGI header block: it is longer than the limit of "
                     "64 bytes",
                     "sent"});
}

TEST_CASE("reply: with CGI off a head is just output") {
  Recorder r;
  const Config config = holding(1024);
  auto loop = std::move(*Loop::create());
  Reply reply(*loop, r, config);
  std::vector<std::string> seen;
  reply.begin(seeing(seen), nullptr);
  reply.output("Status: 404\n\nx");
  reply.finish({Outcome::Kind::Exited, 0});
  CHECK(r.log == std::vector<std::string>{"whole 200 Status: 404\n\nx", "sent"});
  CHECK(seen == std::vector<std::string>{"exited with status 0 / no head"});
}
