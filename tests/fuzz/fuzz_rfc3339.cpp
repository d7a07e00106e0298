// parse_rfc3339 (Fn-Deadline, and the deadline of the legacy formats) against an independent
// reading of the same grammar: what it accepts must be exactly
//   YYYY-MM-DD(T|t| )HH:MM:SS[.digits](Z|z|+HH:MM|-HH:MM)
// with a real calendar date, HH <= 23, MM <= 59, SS <= 60 (a leap second counts as the next
// second), offset HH <= 23 and MM <= 59; and the instant must equal the one <chrono>'s calendar
// computes (fractions truncated to microseconds). Both directions are checked: nothing valid is
// refused, nothing invalid is accepted.
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "hotwrap/deadline.hpp"

using namespace hotwrap;

namespace {

std::optional<int64_t> number(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// The reference: microseconds since the epoch, or nullopt when the text is not a valid time.
std::optional<int64_t> reference(std::string_view s) {
  auto y = number(s, 0, 4), mo = number(s, 5, 2), d = number(s, 8, 2), h = number(s, 11, 2),
       mi = number(s, 14, 2), se = number(s, 17, 2);
  if (!y || !mo || !d || !h || !mi || !se) return std::nullopt;
  if (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':') return std::nullopt;
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return std::nullopt;
  using namespace std::chrono;
  year_month_day ymd{year{static_cast<int>(*y)}, month{static_cast<unsigned>(*mo)},
                     day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  if (*h > 23 || *mi > 59 || *se > 60) return std::nullopt;
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    size_t first = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == first) return std::nullopt;
    for (size_t i = first; i < first + 6; ++i) {
      micros = micros * 10 + (i < pos ? s[i] - '0' : 0);
    }
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    auto oh = number(s, pos + 1, 2), om = number(s, pos + 4, 2);
    if (!oh || !om || s[pos + 3] != ':' || *oh > 23 || *om > 59) return std::nullopt;
    offset = (s[pos] == '+' ? 1 : -1) * (*oh * 60 + *om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t days = sys_days(ymd).time_since_epoch().count();
  int64_t secs = days * 86400 + *h * 3600 + *mi * 60 + *se - offset * 60;
  return secs * 1'000'000 + micros;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto got = parse_rfc3339(text);
  auto want = reference(text);
  assert(got.has_value() == want.has_value());
  if (got) {
    assert(want == got->time_since_epoch().count());
  } else {
    // The reason is for a log line: it names the text (at most 64 bytes of it) and stays short.
    assert(!got.error().empty());
    assert(got.error().size() < 200);
  }
  return 0;
}
