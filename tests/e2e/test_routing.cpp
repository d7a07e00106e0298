// Routing and protocol errors: the server answers them and keeps serving other connections.
#include "harness.hpp"

#include <doctest/doctest.h>

using namespace e2e;

namespace {

void check_still_serves(const Server& srv, Conn& other) {
  Response r = other.call({.body = "still here"});
  INFO("other connection: " << r);
  CHECK(r.status == 200);
  CHECK(r.body == "still here");
  Conn fresh = srv.connect();
  Response r2 = fresh.call({.body = "new conn"});
  INFO("new connection: " << r2);
  CHECK(r2.status == 200);
  CHECK(r2.body == "new conn");
}

// "Responses always carry Fn-Fdk-Version and Fn-Fdk-Runtime", error responses included.
void check_fdk_headers(const Response& r) {
  CHECK(r.header("Fn-Fdk-Version") == "hotwrap/0.1.0");
  CHECK(!r.header("Fn-Fdk-Runtime").value_or("").empty());
}

bool allow_lists_post(const Response& r) {
  for (const auto& v : r.header_values("Allow")) {
    if (v.find("POST") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("routing: another method on /call is 405 with Allow: POST") {
  Server srv({"cat"});
  Conn c = srv.connect();
  Request req{.method = "GET", .framing = Request::Framing::None};
  SUBCASE("GET") {}
  SUBCASE("PUT with a body") {
    req.method = "PUT";
    req.body = "x";
    req.framing = Request::Framing::ContentLength;
  }
  Response r = c.call(req);
  INFO(r);
  CHECK(r.status == 405);
  CHECK(allow_lists_post(r));
  check_fdk_headers(r);
}

TEST_CASE("routing: POST to another path is 404") {
  Server srv({"cat"});
  Conn c = srv.connect();
  std::string path;
  SUBCASE("/other") {
    path = "/other";
  }
  SUBCASE("/call/extra") {
    path = "/call/extra";
  }
  SUBCASE("/") {
    path = "/";
  }
  CAPTURE(path);
  Response r = c.call({.path = path, .body = "x"});
  INFO(r);
  CHECK(r.status == 404);
  check_fdk_headers(r);
}

TEST_CASE("routing: garbage bytes get 400 and a closed connection; others keep working") {
  Server srv({"cat"});
  Conn other = srv.connect();
  Response warm = other.call({.body = "warm"});
  REQUIRE(warm.status == 200);

  Conn bad = srv.connect();
  std::string garbage;
  SUBCASE("binary junk") {
    using namespace std::string_literals;
    garbage = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 junk\r\n\r\n"s;
  }
  SUBCASE("bad request line") {
    garbage = "HELLO THERE\r\n\r\n";
  }
  SUBCASE("bad chunk size") {
    garbage =
        "POST /call HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: "
        "chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n";
  }
  CAPTURE(printable(garbage));
  REQUIRE(bad.send_raw(garbage));
  Response r = bad.read_response(5000ms);
  INFO(r);
  CHECK(r.status == 400);
  check_fdk_headers(r);
  CHECK(bad.wait_closed(3000ms));
  check_still_serves(srv, other);
}

TEST_CASE("routing: URL over the limit is 414") {
  Server srv({"cat"});
  Conn other = srv.connect();
  Conn c = srv.connect();
  std::string path;
  SUBCASE("default limit 8192") {
    path = "/call?q=" + std::string(9000, 'a');
  }
  Response r = c.call({.path = path, .body = "x"});
  INFO(r);
  CHECK(r.status == 414);
  check_fdk_headers(r);
  check_still_serves(srv, other);
}

TEST_CASE("routing: URL over HOTWRAP_MAX_URL_BYTES is 414") {
  Server srv({"cat"}, {{"HOTWRAP_MAX_URL_BYTES", "64"}});
  Conn c = srv.connect();
  Response ok = c.call({.path = "/call?q=" + std::string(20, 'a'), .body = "x"});
  INFO(ok);
  CHECK(ok.status == 200);
  Conn c2 = srv.connect();
  Response r = c2.call({.path = "/call?q=" + std::string(100, 'a'), .body = "x"});
  INFO(r);
  CHECK(r.status == 414);
  check_fdk_headers(r);
}

TEST_CASE("routing: headers over the limits are 431 and the connection is closed") {
  Server srv({"cat"});
  Conn other = srv.connect();
  Conn c = srv.connect();
  Request req{.body = "x"};
  SUBCASE("one header larger than 64 KiB") {
    req.headers = {{"X-Big", std::string(70000, 'v')}};
  }
  SUBCASE("header block larger than 64 KiB in many headers") {
    for (int i = 0; i < 100; ++i)
      req.headers.emplace_back("X-H" + std::to_string(i), std::string(700, 'v'));
  }
  SUBCASE("more than 200 headers") {
    for (int i = 0; i < 250; ++i) req.headers.emplace_back("X-H" + std::to_string(i), "v");
  }
  Response r = c.call(req);
  INFO(r);
  CHECK(r.status == 431);
  check_fdk_headers(r);
  CHECK(c.wait_closed(3000ms));
  check_still_serves(srv, other);
}

TEST_CASE("routing: headers within the limits are fine") {
  Server srv({"cat"});
  Conn c = srv.connect();
  Request req{.body = "x"};
  for (int i = 0; i < 150; ++i)
    req.headers.emplace_back("X-H" + std::to_string(i), std::string(100, 'v'));
  Response r = c.call(req);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "x");
}

TEST_CASE("routing: body over HOTWRAP_MAX_BODY_BYTES is 413 and the connection is closed") {
  Server srv({"cat"}, {{"HOTWRAP_MAX_BODY_BYTES", "1000"}});
  Conn other = srv.connect();
  Conn c = srv.connect();
  SUBCASE("exactly the limit is accepted") {
    Response r =
        c.call({.body = std::string(1000, 'b'), .framing = Request::Framing::ContentLength});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body.size() == 1000);
    return;
  }
  Request req{.body = std::string(2000, 'b')};
  SUBCASE("Content-Length") {
    req.framing = Request::Framing::ContentLength;
  }
  SUBCASE("chunked") {
    req.chunk_size = 100;
  }
  Response r = c.call(req);
  INFO(r);
  CHECK(r.status == 413);
  check_fdk_headers(r);
  CHECK(c.wait_closed(3000ms));
  check_still_serves(srv, other);
}

TEST_CASE("routing: Expect: 100-continue gets a 100 before the body is sent") {
  Server srv({"cat"});
  Conn c = srv.connect();
  REQUIRE(
      c.send_raw("POST /call HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                 "Expect: 100-continue\r\n\r\n"));
  // Without the interim answer the client would wait; hotwrap must not wait for the body first.
  Response interim = c.read_response(2000ms);
  INFO(interim);
  REQUIRE(interim.status == 100);
  REQUIRE(c.send_raw("hello"));
  Response r = c.read_response(5000ms);
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.body == "hello");
}
