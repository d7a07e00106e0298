// RFC 3339 deadlines as the Fn agent writes them.
#include <doctest/doctest.h>

#include "hotwrap/deadline.hpp"

using namespace hotwrap;

namespace {
int64_t micros(std::string_view s) {
  auto t = parse_rfc3339(s);
  REQUIRE_MESSAGE(t.has_value(), (t ? std::string() : t.error()));
  return t->time_since_epoch().count();
}
}  // namespace

TEST_CASE("valid timestamps") {
  CHECK(micros("1970-01-01T00:00:00Z") == 0);
  CHECK(micros("2026-11-23T18:33:30Z") == 1795458810LL * 1'000'000);
  // The server's local offset instead of Z: the same instant.
  CHECK(micros("2026-11-23T19:33:30+01:00") == micros("2026-11-23T18:33:30Z"));
  CHECK(micros("2026-11-23T13:03:30-05:30") == micros("2026-11-23T18:33:30Z"));
  // The legacy formats carry milliseconds.
  CHECK(micros("2026-11-23T18:50:57.119Z") == 1795459857LL * 1'000'000 + 119'000);
  CHECK(micros("2026-11-23T18:50:57.1234567Z") == 1795459857LL * 1'000'000 + 123'456);
  CHECK(micros("2024-02-29T00:00:00z") == micros("2024-02-29t00:00:00Z"));
}

TEST_CASE("invalid timestamps say why") {
  struct Row {
    const char* text;
    const char* why;
  };
  const Row rows[] = {
      {"", "expected YYYY-MM-DDTHH:MM:SS"},
      {"tomorrow", "expected YYYY-MM-DDTHH:MM:SS"},
      {"2026-11-23 18:33", "expected YYYY-MM-DDTHH:MM:SS"},
      {"2026-13-01T00:00:00Z", "no such date"},
      {"2025-02-29T00:00:00Z", "no such date"},
      {"2026-11-23T24:00:00Z", "no such time of day"},
      {"2026-11-23T18:33:30", "missing time zone"},
      {"2026-11-23T18:33:30.Z", "empty fraction"},
      {"2026-11-23T18:33:30+0100", "time zone offset must be"},
      {"2026-11-23T18:33:30Zjunk", "unexpected characters"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.text);
    auto t = parse_rfc3339(r.text);
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().find(r.why) != std::string::npos);
  }
}
