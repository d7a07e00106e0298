#include "hotwrap/call_id.hpp"

#include <sys/random.h>

#include <chrono>
#include <cstdint>

namespace hotwrap {

namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

struct State {
  uint64_t last_ms = 0;
  uint64_t hi = 0;  // 16 random bits
  uint64_t lo = 0;  // 64 random bits
  bool seeded = false;
};

}  // namespace

std::string new_call_id() {
  static State s;
  if (!s.seeded) {
    uint64_t r[2] = {0, 0};
    // Not being able to draw randomness (a seccomp filter) leaves ids unique in the process only.
    if (::getrandom(r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r)) {
      r[0] = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    s.hi = r[0] & 0xffff;
    s.lo = r[1];
    s.seeded = true;
  }
  auto now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  // Within one millisecond (or should the clock step back) the random part counts up, so ids
  // still sort in the order they were made.
  if (now <= s.last_ms) {
    now = s.last_ms;
  }
  s.last_ms = now;
  if (++s.lo == 0) s.hi = (s.hi + 1) & 0xffff;
  std::string id(26, '0');
  uint64_t t = now;
  for (int i = 9; i >= 0; --i) {
    id[static_cast<size_t>(i)] = kAlphabet[t & 31];
    t >>= 5;
  }
  // 80 bits: hi (16) then lo (64), five bits a character from the end.
  uint64_t lo = s.lo;
  uint64_t hi = s.hi;
  for (int i = 25; i >= 10; --i) {
    id[static_cast<size_t>(i)] = kAlphabet[lo & 31];
    lo = (lo >> 5) | ((hi & 31) << 59);
    hi >>= 5;
  }
  return id;
}

}  // namespace hotwrap
