// JsonFrameSplitter: object boundaries over every split of the input, and a table of malformed
// inputs with their exact errors and byte offsets.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocols/json.hpp"

using namespace hotwrap;

namespace {

struct Frame {
  std::string text;  // empty for a skipped (TooLarge) frame
  uint64_t offset;
  std::string error;  // error_message() for a skipped frame
  bool operator==(const Frame&) const = default;
};

struct Result {
  std::vector<Frame> frames;
  std::string fatal;      // error_message() after a fatal step
  bool clean_end = true;  // finish()
  std::string end_error;  // error_message() when finish() failed
};

Result split_pieces(const std::vector<std::string>& pieces, uint64_t limit = 1 << 20) {
  JsonFrameSplitter s(limit);
  Result r;
  for (const std::string& piece : pieces) {
    std::string_view in = piece;
    while (!in.empty()) {
      auto step = s.feed(in);
      REQUIRE(step.consumed <= in.size());
      in.remove_prefix(step.consumed);
      if (step.fatal) {
        r.fatal = s.error_message();
        // Once broken, it stays broken and consumes nothing.
        auto again = s.feed("{}");
        CHECK(again.fatal);
        CHECK(again.consumed == 0);
        return r;
      }
      if (step.frame) {
        bool skipped = s.frame_error() != JsonFrameSplitter::Error::None;
        r.frames.push_back(
            {std::string(s.frame()), s.frame_offset(), skipped ? s.error_message() : ""});
      } else {
        CHECK(in.empty());  // a step that ends no frame takes all of its input
      }
    }
  }
  r.clean_end = s.finish();
  if (!r.clean_end) r.end_error = s.error_message();
  return r;
}

Result split_at(const std::string& input, size_t cut, uint64_t limit = 1 << 20) {
  return split_pieces({input.substr(0, cut), input.substr(cut)}, limit);
}

std::vector<std::string> bytes_of(const std::string& input) {
  std::vector<std::string> out;
  for (char c : input) out.emplace_back(1, c);
  return out;
}

// Two agent-style requests with everything that can fool a naive splitter: braces and brackets
// inside strings, escaped quotes, an escaped backslash before a closing quote, nesting, UTF-8.
const std::string kA =
    R"({"call_id":"01A","body":"} { ] [ \" \\","protocol":{"headers":{"X":["{\"a\":1}"]}}})";
const std::string kB = R"({"body":"caf\u00e9 ☕ \\\"}","n":[1,{"m":[]}],"e":{}})";

}  // namespace

TEST_CASE("json frames: back to back, with or without whitespace, at every split point") {
  struct Case {
    const char* name;
    std::string input;
    std::vector<Frame> frames;
  };
  const std::vector<Case> cases = {
      {"no separator", kA + kB, {{kA, 0, ""}, {kB, kA.size(), ""}}},
      {"newline after each, as the agent sends",
       kA + "\n" + kB + "\n",
       {{kA, 0, ""}, {kB, kA.size() + 1, ""}}},
      {"all JSON whitespace around",
       " \t\r\n" + kA + " \r\n\t " + kB,
       {{kA, 4, ""}, {kB, 4 + kA.size() + 5, ""}}},
      {"empty objects", "{}{}\n{ }", {{"{}", 0, ""}, {"{}", 2, ""}, {"{ }", 5, ""}}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    for (size_t cut = 0; cut <= c.input.size(); ++cut) {
      CAPTURE(cut);
      Result r = split_at(c.input, cut);
      CHECK(r.fatal.empty());
      CHECK(r.frames == c.frames);
      CHECK(r.clean_end);
    }
    Result bytewise = split_pieces(bytes_of(c.input));
    CHECK(bytewise.frames == c.frames);
    CHECK(bytewise.clean_end);
  }
}

TEST_CASE("json frames: every JSON value form is accepted inside a request") {
  const std::string frame =
      R"({"s":"a\"\\\/\b\f\n\r\t\u00e9","n":[0,-1,2.5,-0.5e10,1E+2,3e-1],"l":[true,false,null],)"
      R"("o":{"e":{},"a":[],"nested":[[{"x":[]}]]} , "w" : 1 })";
  for (size_t cut = 0; cut <= frame.size(); ++cut) {
    CAPTURE(cut);
    Result r = split_at(frame + frame, cut);
    CHECK(r.fatal.empty());
    CHECK(r.frames.size() == 2);
    CHECK(r.clean_end);
  }
}

TEST_CASE("json frames: a step ends right after the closing brace") {
  JsonFrameSplitter s(1 << 20);
  std::string input = "{\"a\":1}  {\"b\":2}";
  auto step = s.feed(input);
  CHECK(step.frame);
  CHECK(step.consumed == 7);
  CHECK(s.frame() == "{\"a\":1}");
  CHECK_FALSE(s.in_frame());
  step = s.feed(std::string_view(input).substr(7));
  CHECK(step.frame);
  CHECK(step.consumed == input.size() - 7);
  CHECK(s.frame() == "{\"b\":2}");
  CHECK(s.frame_offset() == 9);
  CHECK(s.offset() == input.size());
}

TEST_CASE("json frames: malformed input, with the exact error and offset") {
  struct Case {
    const char* name;
    std::string input;
    size_t frames;  // complete frames before the error
    std::string fatal;
    std::string end_error;
  };
  const std::vector<Case> cases = {
      {"text instead of an object", "hello", 0, "expected a JSON object ('{') at byte 0, found 'h'",
       ""},
      {"an array is not a request", "[1,2]", 0, "expected a JSON object ('{') at byte 0, found '['",
       ""},
      {"garbage after a request", kA + "\n xyz", 1,
       "expected a JSON object ('{') at byte " + std::to_string(kA.size() + 2) + ", found 'x'", ""},
      {"a stray closing brace", "{}}", 1, "expected a JSON object ('{') at byte 2, found '}'", ""},
      {"a control byte", std::string("{}\x01", 3), 1,
       "expected a JSON object ('{') at byte 2, found byte 0x01", ""},
      {"a non-ASCII byte", "\xef\xbb\xbf{}", 0,
       "expected a JSON object ('{') at byte 0, found byte 0xef", ""},
      {"cut inside a string", "{}{\"body\":\"abc", 1, "",
       "the input ended at byte 14 inside the request that began at byte 2"},
      {"cut after an escape", "{\"body\":\"a\\", 0, "",
       "the input ended at byte 11 inside the request that began at byte 0"},
      {"unbalanced", "{\"a\":{\"b\":1}", 0, "",
       "the input ended at byte 12 inside the request that began at byte 0"},
      {"an escaped quote does not end the string", "{\"a\":\"\\\"}", 0, "",
       "the input ended at byte 9 inside the request that began at byte 0"},
      // Inside a frame, at the first byte JSON does not allow: no wait for the end of input.
      {"not JSON at all", "{not json", 0,
       "invalid JSON at byte 1 (in the request at byte 0): expected a key (a JSON string) or "
       "'}', found 'n'",
       ""},
      {"a bare word as a value", "{}{\"a\":yes}", 1,
       "invalid JSON at byte 7 (in the request at byte 2): expected a JSON value, found 'y'", ""},
      {"a cut literal", "{\"a\":tru}", 0,
       "invalid JSON at byte 8 (in the request at byte 0): expected true, false or null, found "
       "'}'",
       ""},
      {"a missing colon", "{\"a\" 1}", 0,
       "invalid JSON at byte 5 (in the request at byte 0): expected ':' after the key, found '1'",
       ""},
      {"a trailing comma", "{\"a\":1,}", 0,
       "invalid JSON at byte 7 (in the request at byte 0): expected a key (a JSON string), found "
       "'}'",
       ""},
      {"a leading zero", "{\"a\":01}", 0,
       "invalid JSON at byte 6 (in the request at byte 0): expected ',' or '}', found '1'", ""},
      {"a mismatched close", "{\"a\":[1}", 0,
       "invalid JSON at byte 7 (in the request at byte 0): expected ',' or ']', found '}'", ""},
      {"a raw newline in a string", "{\"a\":\"x\ny\"}", 0,
       "invalid JSON at byte 7 (in the request at byte 0): expected a control character to be "
       "escaped (\\u00XX) in a string, found byte 0x0a",
       ""},
      {"a bad escape", "{\"a\":\"\\x\"}", 0,
       "invalid JSON at byte 7 (in the request at byte 0): expected an escape (\\\" \\\\ \\/ \\b "
       "\\f \\n \\r \\t or \\uXXXX), found 'x'",
       ""},
      {"a short unicode escape", "{\"a\":\"\\u12g4\"}", 0,
       "invalid JSON at byte 10 (in the request at byte 0): expected a hex digit of a \\uXXXX "
       "escape, found 'g'",
       ""},
      {"a number without digits", "{\"a\":-}", 0,
       "invalid JSON at byte 6 (in the request at byte 0): expected a digit after '-', found '}'",
       ""},
      {"an exponent without digits", "{\"a\":1e}", 0,
       "invalid JSON at byte 7 (in the request at byte 0): expected a digit of the exponent, found "
       "'}'",
       ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    for (size_t cut = 0; cut <= c.input.size(); ++cut) {
      CAPTURE(cut);
      Result r = split_at(c.input, cut);
      CHECK(r.frames.size() == c.frames);
      CHECK(r.fatal == c.fatal);
      if (c.fatal.empty()) {
        CHECK_FALSE(r.clean_end);
        CHECK(r.end_error == c.end_error);
      }
    }
  }
}

TEST_CASE("json frames: a frame over the limit is skipped to its end, and the stream goes on") {
  std::string big = "{\"body\":\"" + std::string(100, 'x') + "\"}";
  std::string input = "{\"a\":1}" + big + "\n{\"b\":2}";
  const std::vector<Frame> expected = {
      {"{\"a\":1}", 0, ""},
      {"", 7, "the request at byte 7 is larger than the limit of 64 bytes"},
      {"{\"b\":2}", 7 + big.size() + 1, ""},
  };
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    CAPTURE(cut);
    Result r = split_at(input, cut, 64);
    CHECK(r.fatal.empty());
    CHECK(r.frames == expected);
    CHECK(r.clean_end);
  }
  SUBCASE("exactly at the limit is accepted") {
    std::string exact = "{\"body\":\"" + std::string(64 - 11, 'y') + "\"}";
    REQUIRE(exact.size() == 64);
    Result r = split_pieces({exact}, 64);
    REQUIRE(r.frames.size() == 1);
    CHECK(r.frames[0].text == exact);
  }
  SUBCASE("an endless frame is held to no more than the limit") {
    JsonFrameSplitter s(64);
    CHECK_FALSE(s.feed("{\"body\":\"").frame);
    for (int i = 0; i < 1000; ++i) CHECK_FALSE(s.feed(std::string(1000, 'z')).frame);
    CHECK(s.frame().empty());
    CHECK(s.frame_error() == JsonFrameSplitter::Error::TooLarge);
    CHECK_FALSE(s.finish());
  }
}

TEST_CASE("json frames: EOF between frames is clean, also with trailing whitespace") {
  for (std::string input : {std::string(), std::string(" \n"), kA + "\n", kA + kB + "\r\n\t "}) {
    CAPTURE(input);
    Result r = split_pieces({input});
    CHECK(r.fatal.empty());
    CHECK(r.clean_end);
  }
}

TEST_CASE("json frame limit: room for the body escaped, 64 MiB when the body is unlimited") {
  CHECK(json_frame_limit(0, 65536) == 64ull << 20);
  CHECK(json_frame_limit(1000, 65536) == 6000 + 65536 + 4096);
}
