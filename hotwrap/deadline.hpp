// Fn-Deadline / FN_DEADLINE: RFC 3339 timestamps.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <string_view>

namespace hotwrap {

using WallTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`; the error says what is wrong.
std::expected<WallTime, std::string> parse_rfc3339(std::string_view text);

}  // namespace hotwrap
