// A whole HTTP exchange: request bytes in any split from a caller on a socket, the command's
// output in any split with any ending, played by fake calls (no process). Invariants (real
// assertions; they abort):
// - hotwrap writes only well-formed HTTP/1.1 responses, whatever the input (checked with llhttp
//   parsing the other way);
// - a call is started per routed request at most, one at a time;
// - a caller hanging up is noticed in every phase, the input paused included, and once the
//   exchange is gone no call is left running (none outlives its caller);
// - and nothing crashes, leaks or reads out of bounds (ASan, UBSan).
#include <fuzzer/FuzzedDataProvider.h>
#include <llhttp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "hotwrap/http_exchange.hpp"
#include "pieces.hpp"
#include "tests/support/fake_calls.hpp"

using namespace hotwrap;
using hotwrap::testing::FakeCall;
using hotwrap::testing::FakeCalls;

namespace {

// Parses what the caller received as a sequence of HTTP/1.1 responses. `heads` says, in order,
// which routed requests were HEADs: their answers have headers only (RFC 9110 §9.3.2). A request
// refused before it was routed (unparseable, over a header limit) is answered last, with a body.
struct ResponseCheck {
  explicit ResponseCheck(std::deque<bool>& heads) : heads(heads) {
    llhttp_settings_init(&settings);
    settings.on_headers_complete = [](llhttp_t* p) {
      std::deque<bool>& h = static_cast<ResponseCheck*>(p->data)->heads;
      if (p->status_code < 200 || h.empty()) return 0;  // 100 Continue answers no request
      bool head = h.front();
      h.pop_front();
      return head ? 1 : 0;  // 1: this response has no body
    };
    settings.on_message_complete = [](llhttp_t* p) {
      ++static_cast<ResponseCheck*>(p->data)->complete;
      return 0;
    };
    llhttp_init(&parser, HTTP_RESPONSE, &settings);
    parser.data = this;
  }
  void feed(std::string_view bytes) {
    if (bytes.empty()) return;
    llhttp_errno_t e = llhttp_execute(&parser, bytes.data(), bytes.size());
    assert(e == HPE_OK);
  }
  std::deque<bool>& heads;
  llhttp_settings_t settings;
  llhttp_t parser;
  int complete = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  Config config;
  config.command = {"cat"};
  config.buffer_bytes = fdp.ConsumeBool() ? fdp.ConsumeIntegralInRange<uint64_t>(0, 64) : 1 << 20;
  config.max_body_bytes = fdp.ConsumeBool() ? fdp.ConsumeIntegralInRange<uint64_t>(0, 256) : 0;
  std::string stream = fdp.ConsumeRandomLengthString(4096);
  std::vector<std::string_view> pieces = fuzzer_pieces(fdp, stream);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  UniqueFd server(sv[0]), client(sv[1]);
  auto loop = std::move(*Loop::create());
  FakeCalls calls;
  hotwrap::testing::TestOwner owner;
  auto exchange = std::make_unique<HttpExchange>(*loop, calls, config, owner, server.get(),
                                                 server.get(), HttpExchange::Transport::Connection);
  ResponseCheck check(owner.heads);
  char buf[65536];
  auto pump = [&] {
    for (int i = 0; i < 8; ++i) event_base_loop(loop->base(), EVLOOP_NONBLOCK);
    ssize_t n;
    while ((n = ::read(client.get(), buf, sizeof buf)) > 0) {
      check.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
  };
  // The command's side: for the running call, some output in pieces, maybe a stall on its
  // stdin, and an ending (possibly before its body is complete).
  auto play = [&] {
    while (FakeCall* c = calls.current()) {
      assert(calls.live.size() == 1);
      if (!c->input_ended && !fdp.ConsumeBool()) {
        c->congested = fdp.ConsumeBool();
        if (!c->congested && fdp.ConsumeBool()) c->input_ready();
        return;
      }
      std::string out = fdp.ConsumeRandomLengthString(256);
      for (std::string_view p : fuzzer_pieces(fdp, out)) c->output(p);
      if (calls.current() != c) return;
      if (fdp.ConsumeBool()) c->input_ready();
      if (calls.current() != c) return;
      auto kind = static_cast<Outcome::Kind>(fdp.ConsumeIntegralInRange<int>(0, 3));
      c->finish({kind, fdp.ConsumeIntegralInRange<int>(0, 3)});
      pump();
    }
  };
  for (std::string_view p : pieces) {
    if (owner.ended) break;
    if (::write(client.get(), p.data(), p.size()) < 0) break;
    pump();
    play();
  }
  play();
  pump();
  ::shutdown(client.get(), SHUT_WR);  // the caller hangs up, whatever the exchange was doing
  pump();
  // Whatever the phase (reading, paused behind a slow command, answering), the hang-up is seen.
  assert(owner.ended);
  exchange.reset();
  assert(calls.live.empty());
  assert(check.complete <= calls.started + static_cast<int>(pieces.size()) + 1);
  return 0;
}
