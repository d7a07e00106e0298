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
#include <string>
#include <string_view>

namespace hotwrap {

class Loop;

enum class Level { Debug, Info, Warn, Error };

// Parses "debug", "info", "warn" or "error".
bool parse_level(std::string_view text, Level& out);

// Lines below `level` are dropped. Set once at start-up, before the loop runs.
void set_log_level(Level level);
bool log_enabled(Level level);

// How lines are written: `hotwrap: <level>: ...` text, or one JSON object a line with the
// fields Cloud Logging reads (severity, message, time, the trace), for Cloud Run and any
// collector that parses JSON lines.
enum class LogFormat { Text, Json };

// Set once at start-up, before the loop runs. `trace_project`: the Google Cloud project a call's
// trace id belongs to; with it (and JSON), a call's lines carry
// `logging.googleapis.com/trace: projects/<project>/traces/<trace id>`.
void set_log_format(LogFormat format, std::string trace_project = {});
bool log_json();

// The trace field's value for a call's trace id (`projects/<project>/traces/<id>`), or empty
// when lines carry none (text format, no project, no trace id).
std::string log_trace_field(std::string_view trace_id);

// While one lives, hotwrap's own lines about the call `call_id` carry its trace (JSON only;
// costs nothing otherwise). A Call holds one, and so does what outlives it on its behalf.
class LogTrace {
 public:
  LogTrace(std::string_view call_id, std::string_view trace_id);
  ~LogTrace();
  LogTrace(const LogTrace&) = delete;
  LogTrace& operator=(const LogTrace&) = delete;

 private:
  bool registered_ = false;
};

// One JSON log line's fields.
struct JsonLine {
  std::string_view severity;  // Cloud Logging's names: DEFAULT, DEBUG, INFO, WARNING, ERROR
  std::string_view message;
  std::string_view time;     // RFC 3339, UTC
  std::string_view call_id;  // omitted when empty
  std::string_view trace;    // the trace field's value; omitted when empty
  std::string_view source;   // "hotwrap" for hotwrap's own lines, "command" for the command's
};
// Appends the line as one JSON object and a newline. Any bytes make valid JSON: control bytes
// are escaped, valid UTF-8 is kept, each byte of an invalid sequence becomes \ufffd.
void append_json_line(std::string& out, const JsonLine& line);
// `bytes` as a JSON string (quoted), escaped as above.
void append_json_string(std::string& out, std::string_view bytes);
// Now, as RFC 3339 in UTC with milliseconds: 2026-11-28T21:30:26.123Z.
void append_log_time(std::string& out);

// Writes one line. `call_id` may be empty. printf-style format.
void log(Level level, std::string_view call_id, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Complete lines of a command's stderr (already prefixed, or JSON lines), through the same sink.
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
