// hotwrap's own log lines: `hotwrap: <level>: [call <id>: ]<message>` on stderr, one event a line,
// and the lines of the commands' stderr relayed beside them.
//
// Once the loop runs, every line goes through one sink that never blocks: hotwrap's stderr is a
// pipe or socket to the container runtime, and a log reader that stalls must not stall the loop,
// another call or a deadline. What the reader does not take at once is queued (bounded) and
// written as it drains; what does not fit is dropped and counted, and a later line says how
// much. Before the loop (start-up errors) and after it, lines are written directly.
#pragma once

#include <cstddef>
#include <string_view>

namespace hotwrap {

class Loop;

enum class Level { Debug, Info, Warn, Error };

// Parses "debug", "info", "warn" or "error".
bool parse_level(std::string_view text, Level& out);

// Lines below `level` are dropped. Set once at start-up, before the loop runs.
void set_log_level(Level level);
bool log_enabled(Level level);

// Writes one line. `call_id` may be empty. printf-style format.
void log(Level level, std::string_view call_id, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Complete lines of a command's stderr (already prefixed), through the same sink.
void log_relay(std::string_view lines);

// True while the sink holds more than it should take from commands: a relay stops reading its
// command's stderr (the command waits, as on a slow stderr of its own) until log_drained().
bool log_congested();
// Bytes handed to the sink and not yet taken by the reader.
size_t log_queued();

// Told when the sink's queue has drained (LogWaiter::log_drained), once per registration.
class LogWaiter {
 public:
  virtual void log_drained() = 0;

 protected:
  ~LogWaiter();
};
void log_wait(LogWaiter* waiter);

// From now on lines go through the non-blocking sink on `loop` (main, once the loop exists).
// log_detach() writes what is queued, blocking a bounded time, and goes back to direct writes.
void log_attach(Loop& loop);
void log_detach();

// Writes `data` to `fd` completely, retrying short writes and EINTR; waits on EAGAIN. For
// output before and after the loop only.
void write_all(int fd, std::string_view data);

}  // namespace hotwrap
