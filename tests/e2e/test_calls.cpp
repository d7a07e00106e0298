// Plain calls: bodies both framings, keep-alive, several connections, argv, PATH.
#include "harness.hpp"

#include <doctest/doctest.h>

using namespace e2e;

namespace {

std::string binary_body() {
    std::string s;
    for (int round = 0; round < 64; ++round) {
        for (int b = 0; b < 256; ++b) s.push_back(static_cast<char>(b));
        s.append(3, '\0');
    }
    return s;
}

}  // namespace

TEST_CASE("calls: cat echoes the request body") {
    Server srv({"cat"});
    Conn c = srv.connect();
    Request req{.body = "hello, hotwrap\n"};
    SUBCASE("chunked, one chunk") { req.chunk_size = 0; }
    SUBCASE("chunked, 1-byte chunks") { req.chunk_size = 1; }
    SUBCASE("chunked, 7-byte chunks") { req.chunk_size = 7; }
    SUBCASE("Content-Length") { req.framing = Request::Framing::ContentLength; }
    Response r = c.call(req);
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.complete);
    CHECK(r.body == "hello, hotwrap\n");
}

TEST_CASE("calls: empty body") {
    Server srv({"cat"});
    Conn c = srv.connect();
    Request req;
    SUBCASE("Content-Length: 0") { req.framing = Request::Framing::ContentLength; }
    SUBCASE("chunked with only the last chunk") { req.framing = Request::Framing::Chunked; }
    Response r = c.call(req);
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.complete);
    CHECK(r.body.empty());
}

TEST_CASE("calls: binary body with NUL bytes round-trips") {
    Server srv({"cat"});
    Conn c = srv.connect();
    std::string body = binary_body();
    Request req{.body = body, .chunk_size = 1000};
    SUBCASE("chunked") {}
    SUBCASE("Content-Length") { req.framing = Request::Framing::ContentLength; }
    Response r = c.call(req);
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body.size() == body.size());
    CHECK(r.body == body);
}

TEST_CASE("calls: 10 sequential calls on one kept-alive connection") {
    Server srv({"cat"});
    Conn c = srv.connect();
    for (int i = 0; i < 10; ++i) {
        CAPTURE(i);
        Request req{.body = "call " + std::to_string(i)};
        if (i % 2 == 1) req.framing = Request::Framing::ContentLength;
        Response r = c.call(req);
        INFO(r);
        REQUIRE(r.status == 200);
        CHECK(r.body == "call " + std::to_string(i));
        CHECK_FALSE(r.closed);
    }
}

TEST_CASE("calls: two connections used alternately") {
    Server srv({"cat"});
    Conn a = srv.connect();
    Conn b = srv.connect();
    for (int i = 0; i < 6; ++i) {
        CAPTURE(i);
        Conn& c = i % 2 == 0 ? a : b;
        std::string body = std::string(i % 2 == 0 ? "a" : "b") + std::to_string(i);
        Response r = c.call({.body = body});
        INFO(r);
        REQUIRE(r.status == 200);
        CHECK(r.body == body);
    }
}

TEST_CASE("calls: Connection: close in the request closes after the response") {
    Server srv({"cat"});
    Conn c = srv.connect();
    Response r = c.call({.headers = {{"Connection", "close"}}, .body = "bye"});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == "bye");
    CHECK(c.wait_closed(3000ms));
}

TEST_CASE("calls: argv reaches the command exactly, without a shell") {
    Server srv({"printf", "%s|", "a b", "c'd", "", "*", "$HOME", "x\"y", "-n"});
    Conn c = srv.connect();
    Response r = c.call({});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == "a b|c'd||*|$HOME|x\"y|-n|");
}

TEST_CASE("calls: the command is looked up in PATH") {
    TempDir bin;
    bin.write_file("hw-e2e-tool", "#!/bin/sh\necho \"found $0\"\n", 0755);
    Server srv({"hw-e2e-tool"}, {{"PATH", bin.path() + ":/usr/bin:/bin"}});
    Conn c = srv.connect();
    Response r = c.call({});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == "found " + bin.path() + "/hw-e2e-tool\n");
}

TEST_CASE("calls: request path may carry a query string") {
    Server srv({"cat"});
    Conn c = srv.connect();
    Response r = c.call({.path = "/call?x=1&y=2", .body = "q"});
    INFO(r);
    CHECK(r.status == 200);
    CHECK(r.body == "q");
}
