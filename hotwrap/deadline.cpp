#include "hotwrap/deadline.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>

namespace hotwrap {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  return true;
}

// The date of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

}  // namespace

std::string_view format_rfc3339_ms(WallTime t, std::span<char, kRfc3339MsMax> buf) {
  int64_t ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  int64_t days = ms >= 0 ? ms / 86'400'000 : (ms - 86'399'999) / 86'400'000;
  auto in_day = static_cast<uint64_t>(ms - days * 86'400'000);  // [0, a day)
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char* out = buf.data();
  if (y >= 0 && y <= 9999) {
    // By hand, not with snprintf: every call with a limit formats one (HOTWRAP_DEADLINE).
    auto put = [out](size_t at, uint64_t v, size_t width) {
      for (size_t i = width; i > 0; --i) {
        out[at + i - 1] = static_cast<char>('0' + v % 10);
        v /= 10;
      }
    };
    put(0, static_cast<uint64_t>(y), 4);
    out[4] = '-';
    put(5, m, 2);
    out[7] = '-';
    put(8, d, 2);
    out[10] = 'T';
    put(11, in_day / 3'600'000, 2);
    out[13] = ':';
    put(14, in_day / 60'000 % 60, 2);
    out[16] = ':';
    put(17, in_day / 1000 % 60, 2);
    out[19] = '.';
    put(20, in_day % 1000, 3);
    out[23] = 'Z';
    return {out, 24};
  }
  int n = std::snprintf(out, buf.size(), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                        static_cast<long long>(y), m, d, static_cast<long long>(in_day / 3'600'000),
                        static_cast<long long>(in_day / 60'000 % 60),
                        static_cast<long long>(in_day / 1000 % 60),
                        static_cast<long long>(in_day % 1000));
  return {out, std::min(static_cast<size_t>(n > 0 ? n : 0), buf.size() - 1)};
}

std::string format_rfc3339_ms(WallTime t) {
  std::array<char, kRfc3339MsMax> buf;
  return std::string(format_rfc3339_ms(t, buf));
}

std::expected<WallTime, std::string> parse_rfc3339(std::string_view s) {
  auto bad = [&](const char* why) {
    return std::unexpected(std::string("invalid RFC 3339 time '") + std::string(s.substr(0, 64)) +
                           "': " + why);
  };
  unsigned year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second)) {
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
    return bad("no such date");
  }
  // 60 is a leap second: RFC 3339 allows it; it is counted as the next second.
  if (hour > 23 || minute > 59 || second > 60) return bad("no such time of day");
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t first = pos;
    int64_t scale = 100000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      micros += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == first) return bad("empty fraction of a second");
  }
  if (pos >= s.size()) return bad("missing time zone (Z or +HH:MM)");
  int64_t offset_minutes = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    unsigned oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return bad("time zone offset must be +HH:MM or -HH:MM");
    }
    offset_minutes = (s[pos] == '+' ? 1 : -1) * static_cast<int64_t>(oh * 60 + om);
    pos += 6;
  } else {
    return bad("missing time zone (Z or +HH:MM)");
  }
  if (pos != s.size()) return bad("unexpected characters after the time zone");
  int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                 offset_minutes * 60;
  return WallTime(std::chrono::microseconds(secs * 1'000'000 + micros));
}

}  // namespace hotwrap
