// ResponseParser and the client-side writers: every split point, each way a body can end, 1xx,
// trailers, keep-alive, and a table of malformed and over-limit responses with exact outcomes.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hotwrap/http.hpp"

using namespace hotwrap;

namespace {

struct Parsed {
  std::vector<ResponseHead> heads;
  std::vector<std::string> bodies;
  std::vector<std::vector<Header>> trailers;
  std::vector<bool> keep_alive;
  int ends = 0;
  bool error = false;
  ResponseError why = ResponseError::None;
  std::string reason;
  uint64_t offset = 0;
  std::string rest;  // bytes after the last complete message
};

void record_end(const ResponseParser& p, Parsed& out) {
  ++out.ends;
  out.trailers.push_back(p.trailers());
  out.keep_alive.push_back(p.keep_alive());
}

void record_error(const ResponseParser& p, Parsed& out) {
  out.error = true;
  out.why = p.error();
  out.reason = p.error_reason();
  out.offset = p.error_offset();
}

// Feeds `pieces` one after the other, consuming responses back to back as a client does; `eof`:
// the connection then ends (finish()).
Parsed parse_pieces(const std::vector<std::string>& pieces, bool eof = false,
                    ResponseLimits limits = {}) {
  ResponseParser p(limits);
  Parsed out;
  std::string pending;
  for (const std::string& piece : pieces) {
    pending += piece;
    std::string_view in = pending;
    while (!in.empty()) {
      auto step = p.feed(in);
      if (step.error) {
        record_error(p, out);
        return out;
      }
      if (step.head) {
        out.heads.push_back(p.head());
        out.bodies.emplace_back();
      }
      for (std::string_view b : p.body()) out.bodies.back() += b;
      in.remove_prefix(step.consumed);
      if (step.end) record_end(p, out);
      if (!step.end && step.consumed == 0) break;
    }
    pending = std::string(in);
  }
  out.rest = pending;
  if (eof) {
    auto step = p.finish();
    CHECK(p.body().empty());
    if (step.error) record_error(p, out);
    if (step.end) record_end(p, out);
  }
  return out;
}

Parsed parse_split(const std::string& input, size_t cut, bool eof = false,
                   ResponseLimits limits = {}) {
  return parse_pieces({input.substr(0, cut), input.substr(cut)}, eof, limits);
}

// Lambda's long poll answer: the event, with the call's metadata in headers.
const std::string kLength =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n"
    "Lambda-Runtime-Deadline-Ms: 1542409706888\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
    "Content-Length: 11\r\n\r\n{\"key\":\"v\"}";
const std::string kChunked =
    "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nTrailer: X-Status, X-Error\r\n\r\n"
    "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Status: failed  \r\nX-Error: Runtime.ExitError\r\n"
    "\r\n";
const std::string kEof = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello to EOF";
const std::string kContinue =
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n";

}  // namespace

TEST_CASE("a Content-Length response parses identically at every split point") {
  for (size_t cut = 0; cut <= kLength.size(); ++cut) {
    CAPTURE(cut);
    Parsed r = parse_split(kLength, cut);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.ends == 1);
    REQUIRE(r.heads.size() == 1);
    CHECK(r.heads[0].status == 200);
    CHECK(r.heads[0].reason == "OK");
    CHECK(r.heads[0].http11);
    CHECK(r.bodies[0] == "{\"key\":\"v\"}");
    CHECK(r.keep_alive[0]);
    CHECK(r.trailers[0].empty());
    REQUIRE(r.heads[0].find("lambda-runtime-aws-request-id") != nullptr);
    CHECK(*r.heads[0].find("Lambda-Runtime-Deadline-Ms") == "1542409706888");
    // Repeated names are kept, in order.
    const auto& h = r.heads[0].headers;
    REQUIRE(h.size() == 6);
    CHECK(h[3].value == "a=1");
    CHECK(h[4].value == "b=2");
    CHECK(r.rest.empty());
  }
}

TEST_CASE("a chunked response with trailers parses identically at every split point") {
  for (size_t cut = 0; cut <= kChunked.size(); ++cut) {
    CAPTURE(cut);
    Parsed r = parse_split(kChunked, cut);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.ends == 1);
    CHECK(r.heads[0].status == 202);
    CHECK(r.heads[0].reason == "Accepted");
    CHECK(r.bodies[0] == "hello world");
    CHECK(r.keep_alive[0]);
    // Trailers are kept apart from the head, trailing blanks trimmed as in the head.
    CHECK(r.heads[0].headers.size() == 2);
    REQUIRE(r.trailers[0].size() == 2);
    CHECK(r.trailers[0][0].name == "X-Status");
    CHECK(r.trailers[0][0].value == "failed");
    CHECK(*find_header(r.trailers[0], "x-error") == "Runtime.ExitError");
  }
}

TEST_CASE("a body that runs to EOF ends at finish(), at every split point") {
  for (size_t cut = 0; cut <= kEof.size(); ++cut) {
    CAPTURE(cut);
    Parsed r = parse_split(kEof, cut, /*eof*/ true);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.ends == 1);
    CHECK(r.bodies[0] == "hello to EOF");
    CHECK_FALSE(r.keep_alive[0]);
  }
  SUBCASE("an empty one") {
    Parsed r = parse_pieces({"HTTP/1.1 200 OK\r\n\r\n"}, /*eof*/ true);
    REQUIRE(r.ends == 1);
    CHECK(r.bodies[0].empty());
  }
  SUBCASE("before EOF it is not complete") {
    Parsed r = parse_pieces({kEof});
    CHECK(r.ends == 0);
    CHECK(r.bodies[0] == "hello to EOF");
  }
  SUBCASE("Transfer-Encoding without chunked last also runs to EOF") {
    Parsed r =
        parse_pieces({"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz"}, /*eof*/ true);
    REQUIRE(r.ends == 1);
    CHECK(r.bodies[0] == "zzz");
    CHECK_FALSE(r.keep_alive[0]);
  }
}

TEST_CASE("1xx interim responses are skipped, at every split point") {
  std::string input = kContinue + kLength;
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    CAPTURE(cut);
    Parsed r = parse_split(input, cut);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.ends == 1);
    REQUIRE(r.heads.size() == 1);
    CHECK(r.heads[0].status == 200);
    CHECK(r.heads[0].find("Link") == nullptr);
    CHECK(r.bodies[0] == "{\"key\":\"v\"}");
  }
  SUBCASE("the exchange is still open after a 1xx: EOF there is an error") {
    ResponseParser p({});
    auto step = p.feed("HTTP/1.1 100 Continue\r\n\r\n");
    CHECK_FALSE(step.head);
    CHECK_FALSE(step.end);
    CHECK(p.in_message());
    CHECK(p.finish().error);
    CHECK(p.error() == ResponseError::Malformed);
    CHECK(p.error_reason() == "connection closed in the middle of a response");
  }
  SUBCASE("a 1xx has no body even when it declares one") {
    Parsed r = parse_pieces({"HTTP/1.1 100 Continue\r\nContent-Length: 4\r\n\r\n" + kLength});
    REQUIRE(r.ends == 1);
    CHECK(r.heads[0].status == 200);
  }
}

TEST_CASE("204 and 304 end at the head whatever their framing says") {
  for (std::string status : {"204 No Content", "304 Not Modified"}) {
    CAPTURE(status);
    for (std::string framing : {"", "Content-Length: 100\r\n", "Transfer-Encoding: chunked\r\n"}) {
      CAPTURE(framing);
      std::string input = "HTTP/1.1 " + status + "\r\n" + framing + "\r\n" + kLength;
      for (size_t cut = 0; cut <= input.size(); cut += 5) {
        CAPTURE(cut);
        Parsed r = parse_split(input, cut);
        REQUIRE_FALSE(r.error);
        REQUIRE(r.ends == 2);
        CHECK(r.bodies[0].empty());
        CHECK(r.keep_alive[0]);
        CHECK(r.heads[1].status == 200);
        CHECK(r.bodies[1] == "{\"key\":\"v\"}");
      }
    }
  }
}

TEST_CASE("responses back to back: a feed stops at each end") {
  std::string two = kLength + kChunked;
  ResponseParser p({});
  auto step = p.feed(two);
  CHECK(step.head);
  CHECK(step.end);
  CHECK(step.consumed == kLength.size());
  step = p.feed(std::string_view(two).substr(kLength.size()));
  CHECK(step.end);
  CHECK(step.consumed == kChunked.size());
  CHECK(p.head().status == 202);
  CHECK_FALSE(p.finish().error);
}

TEST_CASE("keep-alive follows the response") {
  struct Row {
    const char* head;
    bool keep_alive;
  };
  const Row rows[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true},
  };
  for (const Row& row : rows) {
    CAPTURE(row.head);
    Parsed r = parse_pieces({row.head});
    REQUIRE(r.ends == 1);
    CHECK(r.keep_alive[0] == row.keep_alive);
  }
}

TEST_CASE("EOF: between responses it is clean, inside one it is an error at the end") {
  SUBCASE("before any byte") {
    ResponseParser p({});
    auto step = p.finish();
    CHECK_FALSE(step.error);
    CHECK_FALSE(step.end);
  }
  SUBCASE("after a complete response") {
    ResponseParser p({});
    p.feed(kLength);
    auto step = p.finish();
    CHECK_FALSE(step.error);
    CHECK_FALSE(step.end);
  }
  const std::string cut_short[] = {
      "HTTP/1.1 200",
      "HTTP/1.1 200 OK\r\nContent-Len",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: b\r\n",
  };
  for (const std::string& input : cut_short) {
    CAPTURE(input);
    Parsed r = parse_pieces({input}, /*eof*/ true);
    REQUIRE(r.error);
    CHECK(r.why == ResponseError::Malformed);
    CHECK(r.reason == "connection closed in the middle of a response");
    CHECK(r.offset == input.size());
  }
}

TEST_CASE("malformed and over-limit responses: exact outcomes at every split point") {
  ResponseLimits small{/*header bytes*/ 64, /*headers*/ 3, /*body*/ 10};
  struct Row {
    const char* name;
    std::string input;
    ResponseError why;
    std::string reason;
    uint64_t offset;  // fed whole; a limit is found where a cut token's piece ends, so only then
  };
  const Row rows[] = {
      {"garbage", "\x01\x02 garbage\r\n\r\n", ResponseError::Malformed,
       "HPE_INVALID_CONSTANT: Expected HTTP/", 0},
      {"a request", "GET / HTTP/1.1\r\n\r\n", ResponseError::Malformed,
       "HPE_INVALID_CONSTANT: Expected HTTP/", 0},
      {"bad version", "HTTP/x.1 200 OK\r\n\r\n", ResponseError::Malformed,
       "HPE_INVALID_VERSION: Invalid major version", 5},
      {"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", ResponseError::Malformed,
       "HPE_INVALID_STATUS: Invalid response status", 10},
      {"bad header token", "HTTP/1.1 200 OK\r\nBad\x01Header: x\r\n\r\n", ResponseError::Malformed,
       "HPE_INVALID_HEADER_TOKEN: Invalid header token", 20},
      {"space in a header name", "HTTP/1.1 200 OK\r\nFo o: x\r\n\r\n", ResponseError::Malformed,
       "response header name is not a token", 22},
      {"space before the colon", "HTTP/1.1 200 OK\r\nFoo : x\r\n\r\n", ResponseError::Malformed,
       "response header name is not a token", 22},
      {"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       ResponseError::Malformed, "HPE_INVALID_CHUNK_SIZE: Invalid character in chunk size", 47},
      {"bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
       ResponseError::Malformed, "HPE_INVALID_CONTENT_LENGTH: Invalid character in Content-Length",
       33},
      {"two content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       ResponseError::Malformed, "HPE_UNEXPECTED_CONTENT_LENGTH: Duplicate Content-Length", 52},
      {"101 never asked for", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
       ResponseError::Malformed, "101 Switching Protocols, but no upgrade was asked for", 50},
      {"header bytes", "HTTP/1.1 200 OK\r\nX: " + std::string(80, 'v') + "\r\n\r\n",
       ResponseError::HeadersTooLarge, "response headers larger than the limit", 101},
      {"reason phrase bytes", "HTTP/1.1 200 " + std::string(80, 'k') + "\r\n\r\n",
       ResponseError::HeadersTooLarge, "response headers larger than the limit", 94},
      {"header count", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
       ResponseError::HeadersTooLarge, "more response headers than the limit", 41},
      {"trailer count",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
       "\r\n",
       ResponseError::HeadersTooLarge, "more response headers than the limit", 74},
      {"declared body", "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",
       ResponseError::BodyTooLarge, "response body larger than the limit", 39},
      {"chunked body",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n",
       ResponseError::BodyTooLarge, "response body larger than the limit", 67},
      {"body to EOF", "HTTP/1.1 200 OK\r\n\r\n" + std::string(11, 'b'), ResponseError::BodyTooLarge,
       "response body larger than the limit", 30},
  };
  for (const Row& row : rows) {
    std::string name = row.name;
    CAPTURE(name);
    Parsed whole = parse_pieces({row.input}, /*eof*/ true, small);
    REQUIRE(whole.error);
    CHECK(whole.offset == row.offset);
    for (size_t cut = 0; cut <= row.input.size(); ++cut) {
      CAPTURE(cut);
      Parsed r = parse_split(row.input, cut, /*eof*/ true, small);
      REQUIRE(r.error);
      CHECK(r.why == row.why);
      CHECK(r.reason == row.reason);
      CHECK(r.offset <= row.input.size());
    }
  }
}

TEST_CASE("a refused stream stays refused") {
  ResponseParser p({});
  CHECK(p.feed("HTTP/1.1 2x0 OK\r\n\r\n").error);
  CHECK(p.feed(kLength).error);
  CHECK(p.finish().error);
  CHECK(p.error() == ResponseError::Malformed);
}

TEST_CASE("request heads") {
  std::vector<Header> h{{"Host", "127.0.0.1:9001"}, {"User-Agent", "hotwrap/1"}};
  SUBCASE("a GET without content has no framing header") {
    CHECK(request_head("GET", "/2018-06-01/runtime/invocation/next", h, 0) ==
          "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
          "User-Agent: hotwrap/1\r\n\r\n");
  }
  SUBCASE("a POST of a known length") {
    CHECK(request_head("POST", "/r", h, 0) ==
          "POST /r HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: hotwrap/1\r\n"
          "Content-Length: 0\r\n\r\n");
    CHECK(request_head("POST", "/r", {}, 42) == "POST /r HTTP/1.1\r\nContent-Length: 42\r\n\r\n");
  }
  SUBCASE("a chunked POST") {
    CHECK(request_head("POST", "/r", {}, -1) ==
          "POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  }
}

TEST_CASE("the last chunk with trailers") {
  CHECK(chunk_trailer({}) == "0\r\n\r\n");
  std::vector<Header> t{{"Lambda-Runtime-Function-Error-Type", "Runtime.ExitError"},
                        {"Lambda-Runtime-Function-Error-Body", "eyJ9"}};
  CHECK(chunk_trailer(t) ==
        "0\r\nLambda-Runtime-Function-Error-Type: Runtime.ExitError\r\n"
        "Lambda-Runtime-Function-Error-Body: eyJ9\r\n\r\n");
}

TEST_CASE("what the writers produce, the parsers read back") {
  std::vector<Header> h{{"Host", "localhost"}, {"Trailer", "X-Error"}};
  std::vector<Header> t{{"X-Error", "Runtime.ExitError"}};
  std::string wire = request_head("POST", "/r", h, -1) + chunk_header(5) + "hello\r\n" +
                     chunk_header(6) + " world\r\n" + chunk_trailer(t);
  RequestParser req({});
  auto step = req.feed(wire);
  CHECK(step.end);
  CHECK(step.consumed == wire.size());
  CHECK(req.head().method == "POST");

  std::string answer = response_head(200, t, -1) + chunk_header(2) + "ok\r\n" + chunk_trailer(t);
  Parsed r = parse_pieces({answer});
  REQUIRE(r.ends == 1);
  CHECK(r.bodies[0] == "ok");
  REQUIRE(r.trailers[0].size() == 1);
  CHECK(r.trailers[0][0].value == "Runtime.ExitError");
}

TEST_CASE("header names and values that may be written") {
  CHECK(valid_header_name("Lambda-Runtime-Function-Error-Type"));
  CHECK(valid_header_name("x!#$%&'*+-.^_`|~09"));
  const char* bad_names[] = {"", "a b", "a:b", "a\r\nb", "a\tb", "a(b)", "a\"b", "\xc3\xa9"};
  for (const char* n : bad_names) {
    CAPTURE(n);
    CHECK_FALSE(valid_header_name(n));
  }
  CHECK(valid_header_value(""));
  CHECK(valid_header_value("text/plain; charset=utf-8"));
  CHECK(valid_header_value("a\tb \xc3\xa9"));  // HTAB and obs-text are allowed
  const std::string bad_values[] = {
      "a\rb", "a\nb", "a\r\nX-Injected: 1", std::string("a\0b", 3), "a\x7f", "a\x1b[0m"};
  for (const std::string& v : bad_values) {
    CAPTURE(v);
    CHECK_FALSE(valid_header_value(v));
  }
}
