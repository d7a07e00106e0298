// hotwrap's own log lines: `hotwrap: <level>: [call <id>: ]<message>` on stderr, one event a line.
#pragma once

#include <string_view>

namespace hotwrap {

enum class Level { Debug, Info, Warn, Error };

// Parses "debug", "info", "warn" or "error".
bool parse_level(std::string_view text, Level& out);

// Lines below `level` are dropped. Set once at start-up, before the loop runs.
void set_log_level(Level level);
bool log_enabled(Level level);

// Writes one line. `call_id` may be empty. printf-style format.
void log(Level level, std::string_view call_id, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Writes `data` to `fd` completely, retrying short writes and EINTR; waits on EAGAIN.
// For log output only: the container's log reader is the consumer.
void write_all(int fd, std::string_view data);

}  // namespace hotwrap
