// Deadlines as text: Fn-Deadline / FN_DEADLINE in, HOTWRAP_DEADLINE out (RFC 3339).
#pragma once

#include <chrono>
#include <cstddef>
#include <expected>
#include <span>
#include <string>
#include <string_view>

namespace hotwrap {

using WallTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`; the error says what is wrong.
std::expected<WallTime, std::string> parse_rfc3339(std::string_view text);

// `t` in UTC with milliseconds, e.g. 2026-11-28T21:30:05.123Z (HOTWRAP_DEADLINE).
std::string format_rfc3339_ms(WallTime t);
// The same, written into `buf`, and returned as a view of it: no allocation (every call with a
// limit formats one). Any WallTime fits.
inline constexpr size_t kRfc3339MsMax = 48;
std::string_view format_rfc3339_ms(WallTime t, std::span<char, kRfc3339MsMax> buf);

}  // namespace hotwrap
