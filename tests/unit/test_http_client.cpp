// http_client: one keep-alive client connection against a fake server on a loopback socket —
// exchanges back to back on one connection, whole and chunked bodies with trailers, the server
// closing (at the end of a response, or while the connection idles: the request goes again on a
// new one), a refused connection, an early answer to a streamed body, and backpressure both ways.
#include <doctest/doctest.h>
#include <poll.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "hotwrap/loop.hpp"
#include "hotwrap/net.hpp"
#include "transports/http_client.hpp"

using namespace hotwrap;

namespace {

struct Recorder final : HttpClient::Handler {
  void response_head(const ResponseHead& h) override {
    status = h.status;
    ++heads;
  }
  void response_body(std::span<const std::string_view> pieces) override {
    for (std::string_view p : pieces) body.append(p);
  }
  void response_end(const ResponseHead&, const std::vector<Header>& t) override {
    ++ends;
    trailers = t;
  }
  void request_drained() override { ++drained; }
  void failed(const std::string& why) override { failure = why; }
  int status = 0;
  int heads = 0;
  int ends = 0;
  int drained = 0;
  std::string body;
  std::vector<Header> trailers;
  std::string failure;
};

struct Fixture {
  Fixture() : loop(std::move(*Loop::create())) {
    auto l = listen_tcp(0);
    REQUIRE(l.has_value());
    port = l->port;
    listener = std::move(l->fd);
    client = std::make_unique<HttpClient>(*loop, "127.0.0.1", port, rec);
  }
  // Runs the loop until `done` (about 5 s at most).
  template <typename Pred>
  bool run_until(Pred done) {
    for (int i = 0; i < 5000 && !done(); ++i) {
      event_base_loop(loop->base(), EVLOOP_NONBLOCK | EVLOOP_ONCE);
      ::usleep(1000);
    }
    return done();
  }
  // The next connection to the fake server.
  UniqueFd accept() {
    UniqueFd fd;
    run_until([&] {
      auto c = accept_connection(listener.get());
      if (c) fd = std::move(*c);
      return static_cast<bool>(fd);
    });
    REQUIRE(fd);
    return fd;
  }
  // What the server reads from `fd` until `marker` has arrived.
  std::string read_until(int fd, std::string_view marker) {
    std::string got;
    run_until([&] {
      char buf[65536];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      return got.find(marker) != std::string::npos;
    });
    return got;
  }
  void write(int fd, std::string_view s) {
    REQUIRE(::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size()));
  }

  std::unique_ptr<Loop> loop;
  UniqueFd listener;
  uint16_t port = 0;
  Recorder rec;
  std::unique_ptr<HttpClient> client;
};

constexpr std::string_view kOk = "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok";

}  // namespace

TEST_CASE("http client: exchanges back to back on one kept-alive connection") {
  Fixture f;
  f.client->request("GET", "/next", {});
  UniqueFd s = f.accept();
  std::string req = f.read_until(s.get(), "\r\n\r\n");
  CHECK(req.starts_with("GET /next HTTP/1.1\r\nHost: 127.0.0.1:"));
  CHECK(req.find("Content-Length") == std::string::npos);
  f.write(s.get(), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nevent");
  REQUIRE(f.run_until([&] { return f.rec.ends == 1; }));
  CHECK(f.rec.status == 200);
  CHECK(f.rec.body == "event");
  CHECK_FALSE(f.client->busy());

  std::vector<Header> h{{"Content-Type", "text/plain"}};
  f.client->request("POST", "/response", h, "the answer");
  req = f.read_until(s.get(), "the answer");
  CHECK(req.find("Content-Type: text/plain\r\n") != std::string::npos);
  CHECK(req.find("Content-Length: 10\r\n\r\nthe answer") != std::string::npos);
  f.write(s.get(), kOk);
  REQUIRE(f.run_until([&] { return f.rec.ends == 2; }));
  CHECK(f.rec.status == 202);
  CHECK(f.rec.failure.empty());
}

TEST_CASE("http client: a chunked body with trailers") {
  Fixture f;
  f.client->begin_stream("POST", "/r", std::vector<Header>{{"Trailer", "X-Err"}});
  f.client->stream("abc");
  f.client->stream("");  // nothing: an empty chunk would end the body
  f.client->stream("defg");
  f.client->end_stream(std::vector<Header>{{"X-Err", "bad"}});
  UniqueFd s = f.accept();
  std::string req = f.read_until(s.get(), "\r\n0\r\nX-Err: bad\r\n\r\n");
  CHECK(req.find(
            "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Err: bad\r\n\r\n") !=
        std::string::npos);
  f.write(
      s.get(),
      "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nT: v\r\n\r\n");
  REQUIRE(f.run_until([&] { return f.rec.ends == 1; }));
  CHECK(f.rec.body == "ok");
  REQUIRE(f.rec.trailers.size() == 1);
  CHECK(f.rec.trailers[0].value == "v");
}

TEST_CASE("http client: the server closes") {
  Fixture f;
  SUBCASE("after a response: the next request opens a new connection") {
    f.client->request("GET", "/a", {});
    UniqueFd s = f.accept();
    f.read_until(s.get(), "\r\n\r\n");
    f.write(s.get(), "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx");
    REQUIRE(f.run_until([&] { return f.rec.ends == 1; }));
    s.reset();
    f.client->request("GET", "/b", {});
    UniqueFd s2 = f.accept();
    CHECK(f.read_until(s2.get(), "\r\n\r\n").starts_with("GET /b "));
  }
  SUBCASE("while idle: the request goes again, once, on a new connection") {
    f.client->request("GET", "/a", {});
    UniqueFd s = f.accept();
    f.read_until(s.get(), "\r\n\r\n");
    f.write(s.get(), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(f.run_until([&] { return f.rec.ends == 1; }));
    f.client->request("POST", "/b", {}, "body");
    s.reset();  // the server had given up on the idle connection
    UniqueFd s2 = f.accept();
    CHECK(f.read_until(s2.get(), "body").starts_with("POST /b "));
    f.write(s2.get(), kOk);
    REQUIRE(f.run_until([&] { return f.rec.ends == 2; }));
    CHECK(f.rec.failure.empty());
  }
  SUBCASE("in the middle of a response: failed") {
    f.client->request("GET", "/a", {});
    UniqueFd s = f.accept();
    f.read_until(s.get(), "\r\n\r\n");
    f.write(s.get(), "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    REQUIRE(f.run_until([&] { return f.rec.body == "abc"; }));
    s.reset();
    REQUIRE(f.run_until([&] { return !f.rec.failure.empty(); }));
    CHECK(f.rec.failure.find("in the middle of a response") != std::string::npos);
    CHECK_FALSE(f.client->busy());
  }
}

TEST_CASE("http client: a refused connection fails, later") {
  Fixture f;
  f.listener.reset();  // nothing listens on the port any more
  f.client->request("GET", "/next", {});
  CHECK(f.rec.failure.empty());  // never inside request(): the handler may retry from failed()
  REQUIRE(f.run_until([&] { return !f.rec.failure.empty(); }));
  CHECK(f.rec.failure.starts_with("cannot connect to 127.0.0.1:"));
}

TEST_CASE("http client: an answer before the streamed body ends") {
  Fixture f;
  f.client->begin_stream("POST", "/r", {});
  f.client->stream("part");
  UniqueFd s = f.accept();
  f.read_until(s.get(), "part");
  f.write(s.get(), "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(f.run_until([&] { return f.rec.ends == 1; }));
  CHECK(f.rec.status == 413);
  f.client->stream("more");  // dropped: the exchange is over
  f.client->end_stream();
  CHECK(f.client->queued() == 0);
  // The connection cannot carry another exchange: the next one gets a new one.
  f.client->request("GET", "/next", {});
  UniqueFd s2 = f.accept();
  CHECK(f.read_until(s2.get(), "\r\n\r\n").starts_with("GET /next "));
}

TEST_CASE("http client: backpressure both ways") {
  Fixture f;
  SUBCASE("a server that does not read: queued() grows, drained once it reads") {
    f.client->begin_stream("POST", "/r", {});
    UniqueFd s = f.accept();
    std::string mib(1 << 20, 'x');
    REQUIRE(f.run_until([&] { return f.client->queued() == 0; }));  // the head went
    for (int i = 0; i < 16; ++i) f.client->stream(mib);
    CHECK(f.client->queued() > 0);
    size_t total = 0;
    f.run_until([&] {
      char buf[65536];
      ssize_t n = ::read(s.get(), buf, sizeof buf);
      if (n > 0) total += static_cast<size_t>(n);
      return f.rec.drained > 0;
    });
    CHECK(f.rec.drained > 0);
    CHECK(f.client->queued() == 0);
  }
  SUBCASE("paused reading: no body until resumed") {
    f.client->request("GET", "/big", {});
    UniqueFd s = f.accept();
    f.read_until(s.get(), "\r\n\r\n");
    f.write(s.get(), "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc");
    REQUIRE(f.run_until([&] { return f.rec.body == "abc"; }));
    f.client->pause_reading();
    f.write(s.get(), "def");
    for (int i = 0; i < 20; ++i) event_base_loop(f.loop->base(), EVLOOP_NONBLOCK | EVLOOP_ONCE);
    CHECK(f.rec.body == "abc");
    f.client->resume_reading();
    REQUIRE(f.run_until([&] { return f.rec.ends == 1; }));
    CHECK(f.rec.body == "abcdef");
  }
}
