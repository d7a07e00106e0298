// HttpExchange driven through its seams: a socketpair for the caller and fake calls for the
// command, so every phase is reached without a process.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "hotwrap/http_exchange.hpp"
#include "tests/support/fake_calls.hpp"

using namespace hotwrap;
using hotwrap::testing::FakeCall;
using hotwrap::testing::FakeCalls;

namespace {

struct Fixture {
  Fixture(uint64_t buffer_bytes = 1 << 20) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    server.reset(sv[0]);
    client.reset(sv[1]);
    config.command = {"cat"};
    config.buffer_bytes = buffer_bytes;
    loop = std::move(*Loop::create());
    exchange = std::make_unique<HttpExchange>(*loop, calls, config, owner, server.get(),
                                              server.get(), HttpExchange::Transport::Connection);
  }
  // Runs the loop until nothing is ready (bounded).
  void pump() {
    for (int i = 0; i < 50; ++i) event_base_loop(loop->base(), EVLOOP_NONBLOCK);
  }
  void send(std::string_view bytes) {
    REQUIRE(::write(client.get(), bytes.data(), bytes.size()) ==
            static_cast<ssize_t>(bytes.size()));
    pump();
  }
  // Everything the caller has received so far.
  std::string received() {
    pump();
    char buf[65536];
    ssize_t n;
    while ((n = ::read(client.get(), buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    return got;
  }

  UniqueFd server, client;
  Config config;
  std::unique_ptr<Loop> loop;
  FakeCalls calls;
  hotwrap::testing::TestOwner owner;
  std::unique_ptr<HttpExchange> exchange;
  std::string got;
};

const char* const kCall = "POST /call HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";

}  // namespace

TEST_CASE("exchange: a call's body goes in, its output comes back with the policy's status") {
  Fixture f;
  f.send(kCall);
  FakeCall* c = f.calls.current();
  REQUIRE(c != nullptr);
  CHECK(c->input == "hello");
  CHECK(c->input_ended);
  c->output("ol");
  c->output("leh");
  c->finish({Outcome::Kind::Exited, 0});
  CHECK(f.received() ==
        "HTTP/1.1 200 OK\r\nX-Common: 1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
        "olleh");
  SUBCASE("a failure is the policy's message") {
    f.send(kCall);
    f.calls.current()->output("partial");
    f.calls.current()->finish({Outcome::Kind::Exited, 3});
    CHECK(f.received().ends_with(
        "HTTP/1.1 502 Bad Gateway\r\nX-Common: 1\r\nContent-Type: text/plain; "
        "charset=utf-8\r\nContent-Length: 7\r\n\r\nfailed\n"));
  }
}

TEST_CASE("exchange: past the buffer the answer streams; a failure then leaves it unfinished") {
  Fixture f(4);
  f.send(kCall);
  FakeCall* c = f.calls.current();
  c->output("12345");
  std::string head = f.received();
  CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(head.ends_with("\r\n\r\n5\r\n12345\r\n"));
  SUBCASE("success: the final chunk") {
    c->output("6");
    c->finish({Outcome::Kind::Exited, 0});
    CHECK(f.received().ends_with("1\r\n6\r\n0\r\n\r\n"));
    CHECK_FALSE(f.owner.ended);
  }
  SUBCASE("failure: no final chunk, the connection ends") {
    c->finish({Outcome::Kind::Exited, 1});
    CHECK(f.received().ends_with("5\r\n12345\r\n"));
    CHECK(f.owner.ended);
  }
}

TEST_CASE("exchange: a refused request's body is read and dropped; the connection serves on") {
  Fixture f;
  f.send("POST /no HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  CHECK(f.calls.started == 0);
  CHECK(f.received().starts_with("HTTP/1.1 404 Not Found\r\nX-Common: 1\r\n"));
  f.send(kCall);
  REQUIRE(f.calls.current() != nullptr);
  CHECK(f.calls.current()->input == "hello");
}

TEST_CASE("exchange: a command that ends before its body is answered once the body is read") {
  Fixture f;
  f.send("POST /call HTTP/1.1\r\nContent-Length: 6\r\n\r\nab");
  FakeCall* c = f.calls.current();
  c->output("early");
  c->finish({Outcome::Kind::Exited, 0});
  CHECK(f.received().empty());
  f.send("cdef");
  CHECK(f.received().ends_with("\r\n\r\nearly"));
  CHECK(f.calls.killed == 0);
}

TEST_CASE("exchange: pipelined requests are answered one at a time, in order") {
  Fixture f;
  f.send(std::string(kCall) + kCall);
  REQUIRE(f.calls.started == 1);
  f.calls.current()->output("1");
  f.calls.current()->finish({Outcome::Kind::Exited, 0});
  f.pump();
  REQUIRE(f.calls.started == 2);
  f.calls.current()->output("2");
  f.calls.current()->finish({Outcome::Kind::Exited, 0});
  std::string got = f.received();
  CHECK(got.find("\r\n\r\n1HTTP/1.1 200 OK") != std::string::npos);
  CHECK(got.ends_with("\r\n\r\n2"));
}

TEST_CASE("exchange: the caller hanging up mid-call kills the call, even while not read") {
  Fixture f;
  SUBCASE("while its body is read") {
    f.send("POST /call HTTP/1.1\r\nContent-Length: 100\r\n\r\nab");
  }
  SUBCASE("while the command is behind on its body (the input is not read)") {
    f.send("POST /call HTTP/1.1\r\nContent-Length: 100\r\n\r\nab");
    f.calls.current()->congested = true;
    f.send("cd");  // read, fed, then the input pauses
    CHECK(f.calls.current()->input == "abcd");
  }
  REQUIRE(f.calls.current() != nullptr);
  f.client.reset();
  f.pump();
  CHECK(f.owner.ended);
  f.exchange.reset();  // as the owner does once told
  CHECK(f.calls.killed == 1);
}

TEST_CASE("exchange: backpressure: a slow caller pauses the command's output") {
  Fixture f(0);
  int small = 4096;
  REQUIRE(::setsockopt(f.server.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
  f.send(kCall);
  FakeCall* c = f.calls.current();
  std::string mib(1 << 20, 'x');
  c->output(mib);
  CHECK(c->paused);
  std::string got;
  for (int i = 0; i < 1000 && c->paused; ++i) got += f.received();
  CHECK_FALSE(c->paused);
}

TEST_CASE("exchange: a malformed request gets its status and the connection ends") {
  Fixture f;
  f.send("GARBAGE\r\n\r\n");
  CHECK(f.received().starts_with("HTTP/1.1 400 Bad Request\r\n"));
  CHECK(f.owner.ended);
  CHECK(f.owner.how == HttpExchange::End::BadInput);
}

TEST_CASE("exchange: draining ends an idle exchange and the one after its answer") {
  Fixture f;
  f.send(kCall);
  f.owner.drain = true;
  f.exchange->end_if_idle();
  CHECK_FALSE(f.owner.ended);  // a call is in flight
  f.calls.current()->finish({Outcome::Kind::Exited, 0});
  f.received();
  CHECK(f.owner.ended);
}
