// Core pieces the stdio formats rely on: error offsets and stream mode in the request parser, and
// reading a stdin that epoll cannot watch (a regular file, /dev/null).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "hotwrap/fd.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/stream.hpp"

using namespace hotwrap;

namespace {

struct Run {
  int messages = 0;
  bool error = false;
  uint64_t error_offset = 0;
  std::string reason;
};

// Feeds `input` in two pieces cut at `cut`, messages back to back.
Run feed_split(RequestParser& p, const std::string& input, size_t cut) {
  Run r;
  std::string pending;
  for (const std::string& piece : {input.substr(0, cut), input.substr(cut)}) {
    pending += piece;
    std::string_view in = pending;
    while (!in.empty()) {
      auto step = p.feed(in);
      if (step.error) {
        r.error = true;
        r.error_offset = p.error_offset();
        r.reason = p.error_reason();
        return r;
      }
      in.remove_prefix(step.consumed);
      if (step.end) ++r.messages;
      if (!step.end && step.consumed == 0) break;
    }
    pending = std::string(in);
  }
  return r;
}

const std::string kFirst = "POST /call HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";

}  // namespace

TEST_CASE("RequestParser: the error offset counts bytes from the start of the stream") {
  SUBCASE("garbage after a complete request, at every split point") {
    std::string input = kFirst + "\x01junk\r\n\r\n";
    for (size_t cut = 0; cut <= input.size(); ++cut) {
      CAPTURE(cut);
      RequestParser p({});
      Run r = feed_split(p, input, cut);
      CHECK(r.messages == 1);
      REQUIRE(r.error);
      CHECK(r.error_offset == kFirst.size());
      CHECK(r.reason.starts_with("HPE_INVALID_METHOD"));
    }
  }
  SUBCASE("a bad header byte in the second request") {
    std::string second = "POST /call HTTP/1.1\r\nBad\x01Header: x\r\n\r\n";
    std::string input = kFirst + second;
    for (size_t cut = 0; cut <= input.size(); ++cut) {
      CAPTURE(cut);
      RequestParser p({});
      Run r = feed_split(p, input, cut);
      REQUIRE(r.error);
      CHECK(r.error_offset == kFirst.size() + second.find('\x01'));
    }
  }
  SUBCASE("a limit refused in a callback points into the request") {
    RequestLimits limits;
    limits.max_url_bytes = 6;  // "/call" fits, "/toolong" does not
    std::string input = kFirst + "GET /toolong HTTP/1.1\r\n\r\n";
    RequestParser p(limits);
    Run r = feed_split(p, input, input.size());
    REQUIRE(r.error);
    CHECK(p.error() == RequestError::UrlTooLong);
    CHECK(r.error_offset > kFirst.size());
    CHECK(r.error_offset < input.size());
  }
  SUBCASE("EOF in the middle of a request: the offset is the end of the input") {
    std::string input = kFirst + "POST /call HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc";
    RequestParser p({});
    Run r = feed_split(p, input, 10);
    CHECK_FALSE(r.error);
    CHECK(r.messages == 1);
    CHECK_FALSE(p.finish());
    CHECK(p.error_offset() == input.size());
  }
}

TEST_CASE("RequestParser: stream mode keeps parsing after Connection: close and HTTP/1.0") {
  std::string input =
      "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n"
      "POST /b HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi"
      "GET /c HTTP/1.1\r\n\r\n";
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    CAPTURE(cut);
    RequestParser p({});
    p.keep_parsing_after_close();
    Run r = feed_split(p, input, cut);
    CHECK_FALSE(r.error);
    CHECK(r.messages == 3);
    CHECK(p.finish());
  }
  SUBCASE("without it, the requests after `Connection: close` are lost") {
    RequestParser p({});
    Run r = feed_split(p, input, input.size());
    CHECK(r.messages == 1);  // llhttp (loose mode) drops what follows
  }
}

TEST_CASE("fd_pollable: pipes yes, regular files and /dev/null no") {
  auto pipe = make_pipe(true, true);
  REQUIRE(pipe);
  CHECK(fd_pollable(pipe->read.get()));
  char path[] = "/tmp/hotwrap-unit-XXXXXX";
  UniqueFd file(::mkstemp(path));
  REQUIRE(file);
  ::unlink(path);
  CHECK_FALSE(fd_pollable(file.get()));
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  REQUIRE(null);
  CHECK_FALSE(fd_pollable(null.get()));
}

TEST_CASE("FdReader: a stdin epoll refuses is still read to the end") {
  auto loop = Loop::create();
  REQUIRE(loop);
  std::string content;
  for (int i = 0; i < 40000; ++i) content += "line " + std::to_string(i) + "\n";  // > scratch
  char path[] = "/tmp/hotwrap-unit-XXXXXX";
  UniqueFd file(::mkstemp(path));
  REQUIRE(file);
  ::unlink(path);
  REQUIRE(::write(file.get(), content.data(), content.size()) ==
          static_cast<ssize_t>(content.size()));
  REQUIRE(::lseek(file.get(), 0, SEEK_SET) == 0);

  std::string got;
  int chunks = 0;
  int end_err = -1;
  FdReader reader(
      **loop, file.get(),
      [&](std::string_view b) {
        got.append(b);
        ++chunks;
      },
      [&](int err) {
        end_err = err;
        (*loop)->stop(0);
      });
  // A stop and start in between must neither lose nor repeat bytes.
  Timer pause(**loop, [&] { reader.start(); });
  reader.start();
  reader.stop();
  pause.start(std::chrono::microseconds(1000));
  Timer limit(**loop, [&] { (*loop)->stop(1); });  // a hang fails instead of blocking the suite
  limit.start(std::chrono::seconds(5));
  CHECK((*loop)->run() == 0);
  CHECK(end_err == 0);
  CHECK(got == content);
  CHECK(chunks > 1);
  CHECK(reader.ended());
}

TEST_CASE("RequestParser: a chunked body's trailer fields never become headers") {
  // The call starts from the head; with the trailer in the same read, head() is looked at after
  // the trailer was parsed, so the parser itself must keep them apart.
  std::string first =
      "POST /call HTTP/1.1\r\nTransfer-Encoding: chunked\r\nFn-Call-Id: a\r\n\r\n"
      "3\r\nabc\r\n0\r\nFn-Sneaky: from-the-trailer\r\n\r\n";
  std::string second = "POST /call HTTP/1.1\r\nFn-Call-Id: b\r\nContent-Length: 0\r\n\r\n";
  std::string input = first + second;
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    CAPTURE(cut);
    RequestParser p({});
    std::vector<std::vector<Header>> heads;
    std::string pending;
    for (const std::string& piece : {input.substr(0, cut), input.substr(cut)}) {
      pending += piece;
      std::string_view in = pending;
      while (!in.empty()) {
        auto step = p.feed(in);
        REQUIRE_FALSE(step.error);
        in.remove_prefix(step.consumed);
        if (step.end) heads.push_back(p.head().headers);
        if (!step.end && step.consumed == 0) break;
      }
      pending = std::string(in);
    }
    REQUIRE(heads.size() == 2);
    REQUIRE(heads[0].size() == 2);
    CHECK(heads[0][1].name == "Fn-Call-Id");
    for (const Header& h : heads[0]) CHECK_FALSE(iequals(h.name, "Fn-Sneaky"));
    REQUIRE(heads[1].size() == 2);  // the next request's headers are headers again
    CHECK(heads[1][0].value == "b");
  }
}
