// JSON log lines (HOTWRAP_LOG_FORMAT=json): the encoder makes valid JSON of any bytes (checked
// against nlohmann/json's strict parser on random input), hotwrap's own lines and the command's
// stderr lines carry the call id and the trace in their fields, and trace ids are read from the
// request's headers.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "hotwrap/fd.hpp"
#include "hotwrap/log.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/stderr_relay.hpp"
#include "protocols/trace_context.hpp"

using namespace hotwrap;
using nlohmann::json;

namespace {

std::string encoded(std::string_view bytes) {
  std::string out;
  append_json_string(out, bytes);
  return out;
}

// What a JSON parser reads back from the encoding of `bytes`; throws if it is not valid JSON.
std::string decoded(std::string_view bytes) {
  return json::parse(encoded(bytes)).get<std::string>();
}

// Text format back on, whatever a test case did.
struct FormatScope {
  FormatScope(LogFormat f, std::string project) { set_log_format(f, std::move(project)); }
  ~FormatScope() { set_log_format(LogFormat::Text); }
  FormatScope(const FormatScope&) = delete;
  FormatScope& operator=(const FormatScope&) = delete;
};

// fd 2 is a pipe the test reads, for the duration of a test case.
struct CapturedStderr {
  CapturedStderr() {
    auto p = make_pipe(false, false);
    REQUIRE(p);
    pipe = std::move(*p);
    saved.reset(::dup(STDERR_FILENO));
    REQUIRE(::dup2(pipe.write.get(), STDERR_FILENO) == STDERR_FILENO);
    REQUIRE(::fcntl(pipe.read.get(), F_SETFL, O_NONBLOCK) == 0);
  }
  ~CapturedStderr() { ::dup2(saved.get(), STDERR_FILENO); }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;
  std::string read_all() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(pipe.read.get(), buf, sizeof buf)) > 0)
      out.append(buf, static_cast<size_t>(n));
    return out;
  }
  Pipe pipe;
  UniqueFd saved;
};

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    REQUIRE(nl != std::string::npos);  // every line ends
    out.push_back(json::parse(text.substr(start, nl - start)));
    start = nl + 1;
  }
  return out;
}

RequestHead head(std::vector<Header> headers) {
  RequestHead h;
  h.method = "GET";
  h.url = "/";
  h.headers = std::move(headers);
  return h;
}

}  // namespace

TEST_CASE("json log: strings are escaped exactly") {
  CHECK(encoded("plain text") == "\"plain text\"");
  CHECK(encoded("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(encoded("\n\r\t") == "\"\\n\\r\\t\"");
  CHECK(encoded(std::string_view("\x00\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\x7f\"");
  CHECK(encoded("é €𝄞") == "\"é €𝄞\"");  // valid UTF-8 is kept as it is
  // Each byte of an invalid sequence is one U+FFFD.
  CHECK(encoded("\xff") == "\"\\ufffd\"");
  CHECK(encoded("a\xc3") == "\"a\\ufffd\"");                                 // truncated
  CHECK(encoded("\xc0\xaf") == "\"\\ufffd\\ufffd\"");                        // overlong '/'
  CHECK(encoded("\xe0\x80\xaf") == "\"\\ufffd\\ufffd\\ufffd\"");             // overlong, 3 bytes
  CHECK(encoded("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");             // a surrogate
  CHECK(encoded("\xf4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // past U+10FFFF
  CHECK(encoded("\xf0\x9f\x98") == "\"\\ufffd\\ufffd\\ufffd\"");  // a 4-byte one cut short
  CHECK(encoded("\x80x") == "\"\\ufffdx\"");                      // a lone continuation
}

TEST_CASE("json log: random bytes always encode to valid JSON; valid UTF-8 reads back the same") {
  std::mt19937 rng(12345);  // fixed: a failure reproduces
  // Bytes weighted towards what breaks encoders: controls, quotes, UTF-8 lead and continuation
  // bytes.
  const std::string interesting = std::string("\"\\\n\r\t\x01\x1f\x7f \0", 10) +
                                  "\xc2\xc3\xdf\xe0\xe1\xed\xee\xef\xf0\xf1\xf4\xf5\xff\x80\x8f\x90"
                                  "\x9f\xa0\xbf";
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    size_t len = static_cast<size_t>(rng() % 24);
    for (size_t i = 0; i < len; ++i) {
      auto r = static_cast<uint32_t>(rng());
      s += (r & 1) ? interesting[(r >> 1) % interesting.size()] : static_cast<char>(r >> 8);
    }
    std::string back;
    try {
      back = decoded(s);
    } catch (const json::exception& e) {
      FAIL("not valid JSON for input of " << s.size() << " bytes: " << encoded(s) << ": "
                                          << e.what());
    }
    // What decodes is valid UTF-8 (nlohmann checks); unchanged unless something was replaced.
    if (encoded(s).find("\\ufffd") == std::string::npos) CHECK(back == s);
  }
  // Every valid code point, as UTF-8, reads back unchanged.
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x800 ? 1 : 7)) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    REQUIRE_MESSAGE(decoded(s) == s, "code point " << cp);
  }
}

TEST_CASE("json log: a line has severity, message, time, call_id, trace and source") {
  std::string out;
  append_json_line(out, {"WARNING", "it \"failed\"", "2026-11-28T21:30:26.123Z", "id-1",
                         "projects/p/traces/abc", "hotwrap"});
  CHECK(out ==
        "{\"severity\":\"WARNING\",\"message\":\"it \\\"failed\\\"\","
        "\"time\":\"2026-11-28T21:30:26.123Z\",\"call_id\":\"id-1\","
        "\"logging.googleapis.com/trace\":\"projects/p/traces/abc\",\"source\":\"hotwrap\"}\n");
  out.clear();
  append_json_line(out, {"INFO", "m", "t", "", "", "hotwrap"});
  CHECK(out == "{\"severity\":\"INFO\",\"message\":\"m\",\"time\":\"t\",\"source\":\"hotwrap\"}\n");
  std::string time;
  append_log_time(time);
  CHECK(time.size() == 24);
  CHECK(time.ends_with("Z"));
  CHECK(time[10] == 'T');
}

TEST_CASE("json log: hotwrap's own lines, with the trace of a call while it is registered") {
  CapturedStderr err;
  FormatScope json_logs(LogFormat::Json, "my-project");
  log(Level::Warn, {}, "plain %d", 1);
  {
    LogTrace trace("call-1", "4bf92f3577b34da6a3ce929d0e0e4736");
    log(Level::Error, "call-1", "about \"it\"\n");
    log(Level::Info, "call-2", "another call");
  }
  log(Level::Info, "call-1", "after");
  auto lines = json_lines(err.read_all());
  REQUIRE(lines.size() == 4);
  CHECK(lines[0]["severity"] == "WARNING");
  CHECK(lines[0]["message"] == "plain 1");
  CHECK(lines[0]["source"] == "hotwrap");
  CHECK_FALSE(lines[0].contains("call_id"));
  CHECK(lines[1]["severity"] == "ERROR");
  CHECK(lines[1]["message"] == "about \"it\"\n");
  CHECK(lines[1]["call_id"] == "call-1");
  CHECK(lines[1]["logging.googleapis.com/trace"] ==
        "projects/my-project/traces/4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(lines[2]["call_id"] == "call-2");
  CHECK_FALSE(lines[2].contains("logging.googleapis.com/trace"));
  CHECK_FALSE(lines[3].contains("logging.googleapis.com/trace"));  // its LogTrace is gone
}

TEST_CASE("json log: no trace field without a project, nor in text format") {
  {
    FormatScope json_logs(LogFormat::Json, "");
    CHECK(log_trace_field("abc").empty());
  }
  CHECK(log_trace_field("abc").empty());
  FormatScope json_logs(LogFormat::Json, "p");
  CHECK(log_trace_field("abc") == "projects/p/traces/abc");
  CHECK(log_trace_field("").empty());
}

TEST_CASE("json log: the command's stderr lines, one object each, a piece of an overlong one too") {
  CapturedStderr err;
  FormatScope json_logs(LogFormat::Json, "p");
  auto loop = Loop::create();
  REQUIRE(loop);
  auto p = make_pipe(true, true);
  REQUIRE(p);
  StderrRelay relay(**loop, std::move(p->read), true, "id", "0af7651916cd43dd8448eb211c80319c");
  std::string input = "first\n\xff\xfe bad\nlast without newline";
  // An overlong last line, unfinished when read: passed on as a piece, then ended by EOF.
  input += "\n" + std::string(20000, 'x');
  REQUIRE(::write(p->write.get(), input.data(), input.size()) ==
          static_cast<ssize_t>(input.size()));
  p->write.reset();
  relay.drain(1 << 20);
  auto lines = json_lines(err.read_all());
  REQUIRE(lines.size() == 4);
  CHECK(lines[0]["message"] == "first");
  CHECK(lines[0]["severity"] == "DEFAULT");
  CHECK(lines[0]["source"] == "command");
  CHECK(lines[0]["call_id"] == "id");
  CHECK(lines[0]["logging.googleapis.com/trace"] ==
        "projects/p/traces/0af7651916cd43dd8448eb211c80319c");
  CHECK(lines[1]["message"] == "\xef\xbf\xbd\xef\xbf\xbd bad");
  CHECK(lines[2]["message"] == "last without newline");
  // The piece, and no empty object for the end of its line.
  CHECK(lines[3]["message"] == std::string(20000, 'x'));
  // The answer's tail is the raw stderr, not the JSON.
  CHECK(relay.tail().find('{') == std::string::npos);
}

TEST_CASE("http_trace_id: traceparent's trace id, else X-Cloud-Trace-Context's") {
  CHECK(http_trace_id(
            head({{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})) ==
        "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(http_trace_id(
            head({{"X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1"},
                  {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})) ==
        "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(
      http_trace_id(head({{"X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1"}})) ==
      "105445aa7843bc8bf206b12000100000");
  CHECK(http_trace_id(head({{"X-Cloud-Trace-Context", "abc"}})) == "abc");
  // None: no header, an all-zero id, not hex, too long, malformed.
  CHECK(http_trace_id(head({})).empty());
  CHECK(http_trace_id(
            head({{"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}))
            .empty());
  CHECK(http_trace_id(head({{"traceparent", "00-zz-yy-01"}})).empty());
  CHECK(http_trace_id(head({{"X-Cloud-Trace-Context", "not hex/1"}})).empty());
  CHECK(http_trace_id(head({{"X-Cloud-Trace-Context", std::string(33, 'a') + "/1"}})).empty());
}
