// The json protocol driven through its seams: pipes for hotwrap's stdin/stdout and fake calls.
#include <doctest/doctest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "protocols/protocol.hpp"
#include "tests/support/fake_calls.hpp"

using namespace hotwrap;
using hotwrap::testing::FakeCalls;
using nlohmann::json;

namespace {

struct Life final : Lifecycle {
  void done(int code) override { exit_code = code; }
  int exit_code = -1;
};

struct Fixture {
  explicit Fixture(uint64_t buffer_bytes = 1 << 20)
      : loop(std::move(*Loop::create())),
        in(std::move(*make_pipe(true, true))),
        out(std::move(*make_pipe(true, true))) {
    config.command = {"cat"};
    config.buffer_bytes = buffer_bytes;
    fn.emplace(FnContext{*loop, calls, config, LogFrame(nullptr, nullptr), fdk_headers(config)});
    protocol = make_fn_json(*fn, life, in.read.get(), out.write.get());
  }
  void pump() {
    for (int i = 0; i < 20; ++i) event_base_loop(loop->base(), EVLOOP_NONBLOCK);
  }
  void send(std::string_view s) {
    REQUIRE(::write(in.write.get(), s.data(), s.size()) == static_cast<ssize_t>(s.size()));
    pump();
  }
  std::string received() {
    pump();
    char buf[65536];
    ssize_t n;
    while ((n = ::read(out.read.get(), buf, sizeof buf)) > 0)
      got.append(buf, static_cast<size_t>(n));
    return got;
  }

  std::unique_ptr<Loop> loop;
  Pipe in, out;
  Config config;
  FakeCalls calls;
  Life life;
  std::optional<FnContext> fn;
  std::unique_ptr<Protocol> protocol;
  std::string got;
};

}  // namespace

TEST_CASE("json protocol: a frame is a call with its environment; its output the response") {
  Fixture f;
  f.send(R"({"call_id":"c1","body":"hi","protocol":{"headers":{"Fn-Intent":["httprequest"]}}})");
  auto* c = f.calls.current();
  REQUIRE(c != nullptr);
  CHECK(c->request.id == "c1");
  REQUIRE(c->request.env.find("FN_CALL_ID"));
  CHECK(c->request.env.find("FN_INTENT").value_or("") == "httprequest");
  CHECK(c->input == "hi");
  CHECK(c->input_ended);
  c->output("out");
  c->finish({Outcome::Kind::Exited, 0});
  json r = json::parse(f.received());
  CHECK(r["body"] == "out");
  CHECK(r["protocol"]["status_code"] == 200);
  CHECK(r["protocol"]["headers"]["Fn-Http-Status"] == json::array({"200"}));
}

TEST_CASE("json protocol: a streamed body still gets the status of the exit code") {
  Fixture f(2);
  f.send(R"({"call_id":"c1","body":""})");
  auto* c = f.calls.current();
  c->output("abc");
  CHECK(f.received() == R"({"body":"abc)");
  c->output("\xff");
  c->finish({Outcome::Kind::Exited, 4});
  json r = json::parse(f.received());
  CHECK(r["body"] == "abc\xef\xbf\xbd");
  CHECK(r["protocol"]["status_code"] == 502);
}

TEST_CASE("json protocol: draining answers the running call, then is done") {
  Fixture f;
  f.send(R"({"call_id":"c1"})");
  f.protocol->drain();
  CHECK(f.life.exit_code == -1);
  f.calls.current()->finish({Outcome::Kind::Exited, 0});
  f.received();
  CHECK(f.life.exit_code == kExitStreamOk);
}

TEST_CASE("json protocol: garbage between frames stops the stream") {
  Fixture f;
  f.send("x");
  CHECK(f.life.exit_code == kExitStreamBroken);
  CHECK(f.calls.started == 0);
}
