#include "hotwrap/capture.hpp"

#include <doctest/doctest.h>

#include "app/replay.hpp"

using namespace hotwrap;

TEST_CASE("capture_split: two bodies share the bound, each at least half of it when both are big") {
  using P = std::pair<uint64_t, uint64_t>;
  CHECK(capture_split(10, 20, 100) == P{10, 20});
  CHECK(capture_split(10, 1000, 100) == P{10, 90});
  CHECK(capture_split(1000, 10, 100) == P{90, 10});
  CHECK(capture_split(1000, 1000, 100) == P{50, 50});
  CHECK(capture_split(1000, 1000, 0) == P{0, 0});
  for (uint64_t req : {0, 1, 49, 50, 51, 99, 100, 101, 5000}) {
    for (uint64_t ans : {0, 1, 49, 50, 51, 99, 100, 101, 5000}) {
      auto [r, a] = capture_split(req, ans, 100);
      CAPTURE(req);
      CAPTURE(ans);
      CHECK(r <= req);
      CHECK(a <= ans);
      CHECK(r + a <= 100);
      CHECK(r + a == std::min<uint64_t>(req + ans, 100));  // nothing wasted
    }
  }
}

TEST_CASE("capture_name: time-sortable, the id made safe for a file name") {
  using namespace std::chrono;
  system_clock::time_point t{milliseconds(1'796'000'000'123)};
  CHECK(capture_name(t, 7, "01ABC") == "20261130T005320.123Z-000007-01ABC");
  CHECK(capture_name(t, 8, "../a b/\n") == "20261130T005320.123Z-000008-.._a_b__");
  CHECK(capture_name(t, 1, std::string(100, 'x')).size() == 28 + 64);
  CHECK(capture_name(t, 1, "z") < capture_name(t + milliseconds(1), 0, "a"));
}

TEST_CASE("first_difference: the byte, the line and both lines") {
  CHECK(first_difference("same", "same").empty());
  CHECK(first_difference("a\nsecond line\n", "a\nsecond LINE\n") ==
        "  body differs at byte 9 (line 2; 14 bytes expected, 14 got):\n"
        "    expected: second line\n"
        "    got:      second LINE\n");
  CHECK(first_difference("abc", "abcd").find("expected: (end of body)") != std::string::npos);
  CHECK(first_difference("", "x\x01").find("got:      x\\x01") != std::string::npos);
}
