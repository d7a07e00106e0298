// Output buffering (status follows the exit code while stdout fits the buffer, chunked
// streaming past it) and backpressure on request bodies.
#include "harness.hpp"

#include <doctest/doctest.h>

using namespace e2e;

namespace {

std::string seq_output(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += std::to_string(i) + "\n";
  return s;
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return s;
}

}  // namespace

TEST_CASE("buffering: output past HOTWRAP_BUFFER_BYTES streams as a chunked 200") {
  const std::string expected = seq_output(20000);  // ~106 KiB
  REQUIRE(expected.size() > 100 * 1024);
  Server::Options o;
  SUBCASE("environment variable") {
    o.argv = {"seq", "1", "20000"};
    o.env = {{"HOTWRAP_BUFFER_BYTES", "1024"}};
  }
  SUBCASE("flag wins over the environment variable") {
    o.argv = {"--buffer-bytes=1024", "seq", "1", "20000"};
    o.env = {{"HOTWRAP_BUFFER_BYTES", "1048576"}};
  }
  Server srv(std::move(o));
  Conn c = srv.connect();
  Response r = c.call({});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.chunked);
  CHECK(r.complete);
  CHECK(r.body.size() == expected.size());
  CHECK(r.body == expected);
  // The connection is still in a clean state for the next call.
  Response r2 = c.call({});
  CHECK(r2.status == 200);
  CHECK(r2.body == expected);
}

TEST_CASE("buffering: past the buffer, output reaches the caller while the command still runs") {
  Server srv({"sh", "-c", "seq 1 20000; sleep 2; echo end"}, {{"HOTWRAP_BUFFER_BYTES", "1024"}});
  Conn c = srv.connect();
  auto t0 = Clock::now();
  Response r = c.call({}, 10000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.chunked);
  CHECK(r.complete);
  CHECK(r.body == seq_output(20000) + "end\n");
  auto ms = [t0](Clock::time_point t) { return std::chrono::duration_cast<Ms>(t - t0).count(); };
  MESSAGE("headers after " << ms(r.headers_at) << " ms, first body byte after "
                           << ms(r.first_body_at) << " ms, complete after " << ms(r.done_at)
                           << " ms");
  CHECK(r.done_at - t0 >= 1900ms);
  CHECK(r.first_body_at - t0 < 1500ms);
}

TEST_CASE("buffering: output within the buffer is sent with Content-Length") {
  Server srv({"seq", "1", "100"}, {{"HOTWRAP_BUFFER_BYTES", "1024"}});
  Conn c = srv.connect();
  Response r = c.call({});
  INFO(r);
  CHECK(r.status == 200);
  CHECK_FALSE(r.chunked);
  CHECK(r.header("Content-Length") == std::to_string(seq_output(100).size()));
  CHECK(r.body == seq_output(100));
}

TEST_CASE("buffering: failure after streaming started ends the response without the last chunk") {
  Server srv({"sh", "-c", "seq 1 20000; exit 1"}, {{"HOTWRAP_BUFFER_BYTES", "1024"}});
  Conn c = srv.connect();
  Response r = c.call({});
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.chunked);
  CHECK_FALSE(r.complete);
  CHECK(r.closed);
  CHECK_FALSE(r.timed_out);
  // Whatever arrived is a prefix of the command's output.
  CHECK(seq_output(20000).starts_with(r.body));
}

TEST_CASE("buffering: failure with output within the buffer is still a 502") {
  Server srv({"sh", "-c", "echo small; exit 1"}, {{"HOTWRAP_BUFFER_BYTES", "1024"}});
  Conn c = srv.connect();
  Response r = c.call({});
  INFO(r);
  CHECK(r.status == 502);
  CHECK(r.complete);
}

TEST_CASE("backpressure: an 8 MiB body into a command that reads it all") {
  Server srv({"sh", "-c", "cat >/dev/null; echo done"});
  Conn c = srv.connect();
  Request req{.body = pattern(8u << 20)};
  SUBCASE("chunked, 32 KiB chunks") {}
  SUBCASE("chunked, one huge chunk") {
    req.chunk_size = 0;
  }
  SUBCASE("Content-Length") {
    req.framing = Request::Framing::ContentLength;
  }
  Response r = c.call(req, 60000ms);
  INFO(r);
  CHECK(r.request_sent);
  CHECK(r.status == 200);
  CHECK(r.body == "done\n");
}

TEST_CASE("backpressure: 8 MiB echoed through cat streams both ways") {
  Server srv({"cat"});
  Conn c = srv.connect();
  std::string body = pattern(8u << 20);
  Response r = c.call({.body = body}, 60000ms);
  INFO(r);
  CHECK(r.request_sent);
  CHECK(r.status == 200);
  CHECK(r.complete);
  CHECK(r.chunked);  // 8 MiB is past the default 1 MiB buffer
  CHECK(r.body.size() == body.size());
  CHECK(r.body == body);
}

TEST_CASE("backpressure: a command that never reads stdin; the rest of the body is discarded") {
  Server srv({"sh", "-c", "echo \"hi $FN_CALL_ID\""});
  Conn c = srv.connect();
  Request first{.body = pattern(4u << 20)};
  SUBCASE("chunked") {}
  SUBCASE("Content-Length") {
    first.framing = Request::Framing::ContentLength;
  }
  Response r = c.call(first, 60000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "hi " + first.call_id() + "\n");
  CHECK(r.request_sent);
  CHECK_FALSE(r.closed);

  // The same connection serves the next call: the discarded body did not leak into it.
  Request second{.body = "small"};
  Response r2 = c.call(second);
  INFO(r2);
  CHECK(r2.status == 200);
  CHECK(r2.body == "hi " + second.call_id() + "\n");
}
