// RequestParser: every split point, and a table of malformed inputs with their exact outcomes.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hotwrap/http.hpp"

using namespace hotwrap;

namespace {

struct Parsed {
  std::vector<RequestHead> heads;
  std::vector<std::string> bodies;
  int ends = 0;
  bool error = false;
  RequestError why = RequestError::None;
  std::string rest;  // bytes after the last complete message
};

// Feeds `input` in pieces cut at `cuts`, consuming messages back to back as a server would.
Parsed parse_pieces(const std::vector<std::string>& pieces, RequestLimits limits = {}) {
  RequestParser p(limits);
  Parsed out;
  std::string pending;
  for (const std::string& piece : pieces) {
    pending += piece;
    std::string_view in = pending;
    while (!in.empty()) {
      auto step = p.feed(in);
      if (step.error) {
        out.error = true;
        out.why = p.error();
        return out;
      }
      if (step.head) {
        out.heads.push_back(p.head());
        out.bodies.emplace_back();
      }
      for (std::string_view b : p.body()) out.bodies.back() += b;
      in.remove_prefix(step.consumed);
      if (step.end) ++out.ends;
      if (!step.end && step.consumed == 0) break;
    }
    pending = std::string(in);
  }
  out.rest = pending;
  return out;
}

Parsed parse_split(const std::string& input, size_t cut) {
  return parse_pieces({input.substr(0, cut), input.substr(cut)});
}

const std::string kChunked =
    "POST /call HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Go-http-client/1.1\r\n"
    "Transfer-Encoding: chunked\r\nFn-Call-Id: 01ABC\r\n"
    "Fn-Deadline: 2026-11-23T18:33:30Z\r\nAccept-Encoding: gzip\r\n\r\n"
    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
const std::string kLength =
    "POST /call?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
    "Content-Type: text/plain\r\n\r\nhello";

}  // namespace

TEST_CASE("a chunked request parses identically at every split point") {
  for (size_t cut = 0; cut <= kChunked.size(); ++cut) {
    CAPTURE(cut);
    Parsed r = parse_split(kChunked, cut);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.heads.size() == 1);
    CHECK(r.ends == 1);
    CHECK(r.bodies[0] == "hello world");
    CHECK(r.heads[0].method == "POST");
    CHECK(r.heads[0].path() == "/call");
    REQUIRE(r.heads[0].find("fn-call-id") != nullptr);
    CHECK(*r.heads[0].find("fn-call-id") == "01ABC");
    CHECK(*r.heads[0].find("Fn-Deadline") == "2026-11-23T18:33:30Z");
  }
}

TEST_CASE("a Content-Length request parses identically at every split point") {
  for (size_t cut = 0; cut <= kLength.size(); ++cut) {
    CAPTURE(cut);
    Parsed r = parse_split(kLength, cut);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.ends == 1);
    CHECK(r.bodies[0] == "hello");
    CHECK(r.heads[0].url == "/call?x=1");
    CHECK(r.heads[0].path() == "/call");
  }
}

TEST_CASE("pipelined requests stop at each message end") {
  std::string two = kLength + kChunked;
  for (size_t cut = 0; cut <= two.size(); cut += 7) {
    CAPTURE(cut);
    Parsed r = parse_split(two, cut);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.ends == 2);
    CHECK(r.bodies[0] == "hello");
    CHECK(r.bodies[1] == "hello world");
  }
  SUBCASE("a feed stops right after the first message") {
    RequestParser p({});
    auto step = p.feed(two);
    CHECK(step.end);
    CHECK(step.consumed == kLength.size());
  }
}

TEST_CASE("requests without a body") {
  SUBCASE("Content-Length: 0") {
    Parsed r = parse_pieces({"POST /call HTTP/1.1\r\nContent-Length: 0\r\n\r\n"});
    CHECK(r.ends == 1);
    CHECK(r.bodies[0].empty());
  }
  SUBCASE("a GET with no framing is empty") {
    Parsed r = parse_pieces({"GET /call HTTP/1.1\r\nHost: x\r\n\r\n"});
    CHECK(r.ends == 1);
    CHECK(r.heads[0].method == "GET");
  }
}

TEST_CASE("header values: repeated, empty, and trailing blanks trimmed") {
  Parsed r = parse_pieces(
      {"POST /call HTTP/1.1\r\nX-A: one\r\nX-A: two  \r\nX-Empty:\r\nContent-Length: 0\r\n\r\n"});
  REQUIRE(r.ends == 1);
  const auto& h = r.heads[0].headers;
  REQUIRE(h.size() == 4);
  CHECK(h[0].value == "one");
  CHECK(h[1].value == "two");
  CHECK(h[2].name == "X-Empty");
  CHECK(h[2].value.empty());
}

TEST_CASE("keep-alive follows the request") {
  RequestParser p({});
  SUBCASE("HTTP/1.1 default") {
    p.feed("POST /call HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    CHECK(p.keep_alive());
  }
  SUBCASE("Connection: close") {
    p.feed("POST /call HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    CHECK_FALSE(p.keep_alive());
  }
  SUBCASE("HTTP/1.0") {
    p.feed("POST /call HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    CHECK_FALSE(p.keep_alive());
  }
}

TEST_CASE("malformed and over-limit requests: exact outcomes") {
  RequestLimits small{/*url*/ 32, /*header bytes*/ 64, /*headers*/ 3, /*body*/ 10};
  struct Row {
    const char* name;
    std::string input;
    RequestError why;
    int status;
  };
  const Row rows[] = {
      {"garbage", "\x01\x02\x03 garbage\r\n\r\n", RequestError::Malformed, 400},
      {"bad version", "POST /call HTTP/x.1\r\n\r\n", RequestError::Malformed, 400},
      {"bad header token", "POST /call HTTP/1.1\r\nBad\x01Header: x\r\n\r\n",
       RequestError::Malformed, 400},
      {"bad chunk size", "POST /call HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       RequestError::Malformed, 400},
      {"bad content-length", "POST /call HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
       RequestError::Malformed, 400},
      {"both framings",
       "POST /call HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       RequestError::Malformed, 400},
      {"url too long", "POST /" + std::string(40, 'a') + " HTTP/1.1\r\n\r\n",
       RequestError::UrlTooLong, 414},
      {"header bytes", "POST /call HTTP/1.1\r\nX: " + std::string(80, 'v') + "\r\n\r\n",
       RequestError::HeadersTooLarge, 431},
      {"header count", "POST /call HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
       RequestError::HeadersTooLarge, 431},
      {"declared body", "POST /call HTTP/1.1\r\nContent-Length: 11\r\n\r\n",
       RequestError::BodyTooLarge, 413},
      {"chunked body",
       "POST /call HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n",
       RequestError::BodyTooLarge, 413},
  };
  for (const Row& row : rows) {
    std::string name = row.name;
    CAPTURE(name);
    for (size_t cut = 0; cut <= row.input.size(); ++cut) {
      CAPTURE(cut);
      Parsed r = parse_pieces({row.input.substr(0, cut), row.input.substr(cut)}, small);
      REQUIRE(r.error);
      CHECK(r.why == row.why);
      CHECK(status_for(r.why) == row.status);
    }
  }
}

TEST_CASE("a message cut short by EOF is an error; a clean end is not") {
  RequestParser p({});
  CHECK(p.finish());
  p.feed("POST /call HTTP/1.1\r\nContent-Length: 5\r\n\r\nhe");
  CHECK_FALSE(p.finish());
  CHECK(p.error() == RequestError::Malformed);
}

TEST_CASE("response heads") {
  std::vector<Header> h{{"Fn-Fdk-Version", "hotwrap/1"}};
  CHECK(response_head(200, h, 5) ==
        "HTTP/1.1 200 OK\r\nFn-Fdk-Version: hotwrap/1\r\nContent-Length: 5\r\n\r\n");
  CHECK(response_head(502, {}, -1) ==
        "HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(chunk_header(255) == "ff\r\n");
  CHECK(chunk_header(0) == "0\r\n");
  CHECK(iequals("Fn-Call-Id", "fn-call-id"));
  CHECK_FALSE(iequals("Fn-Call-Id", "fn-call-i"));
}
