#include "hotwrap/log.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>

namespace hotwrap {

namespace {
Level g_level = Level::Info;  // written once by main before the loop starts

const char* level_name(Level level) {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "?";
}
}  // namespace

bool parse_level(std::string_view text, Level& out) {
  for (Level l : {Level::Debug, Level::Info, Level::Warn, Level::Error}) {
    if (text == level_name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void set_log_level(Level level) {
  g_level = level;
}
bool log_enabled(Level level) {
  return level >= g_level;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      // Someone made our stderr non-blocking (it is shared with the container runtime).
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 1000);
    } else {
      return;  // log output gone: nothing sensible left to do with this line
    }
  }
}

void log(Level level, std::string_view call_id, const char* fmt, ...) {
  if (!log_enabled(level)) return;
  char line[2048];
  int n;
  if (call_id.empty()) {
    n = std::snprintf(line, sizeof line, "hotwrap: %s: ", level_name(level));
  } else {
    n = std::snprintf(line, sizeof line, "hotwrap: %s: call %.*s: ", level_name(level),
                      static_cast<int>(call_id.size()), call_id.data());
  }
  size_t used = n > 0 ? static_cast<size_t>(n) : 0;
  if (used > sizeof line - 2) used = sizeof line - 2;
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(line + used, sizeof line - used - 1, fmt, ap);
  va_end(ap);
  if (m > 0) used += static_cast<size_t>(m);
  if (used > sizeof line - 2) used = sizeof line - 2;  // truncated: keep the newline
  line[used++] = '\n';
  write_all(STDERR_FILENO, std::string_view(line, used));
}

}  // namespace hotwrap
