#include "hotwrap/log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hotwrap/deadline.hpp"
#include "hotwrap/fd.hpp"
#include "hotwrap/loop.hpp"

namespace hotwrap {

namespace {

Level g_level = Level::Info;  // written once by main before the loop starts
LogFormat g_format = LogFormat::Text;
std::string g_trace_project;  // empty: no trace field

// The calls whose lines carry a trace (JSON with a project only): few at a time, scanned. A call
// may have more than one holder (its Call, then what ends its process group): any one serves.
struct TracedCall {
  const LogTrace* holder;
  std::string call_id;
  std::string field;  // projects/<project>/traces/<id>
};
std::vector<TracedCall> g_traced;

const char* severity_name(Level level) {
  switch (level) {
    case Level::Debug: return "DEBUG";
    case Level::Info: return "INFO";
    case Level::Warn: return "WARNING";
    case Level::Error: return "ERROR";
  }
  return "DEFAULT";
}

const char* level_name(Level level) {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "?";
}

// One of hotwrap's own lines, in the configured format, newline included.
void append_own_line(std::string& out, Level level, std::string_view call_id,
                     std::string_view message) {
  if (g_format == LogFormat::Text) {
    out += "hotwrap: ";
    out += level_name(level);
    out += ": ";
    if (!call_id.empty()) {
      out += "call ";
      out += call_id;
      out += ": ";
    }
    out += message;
    out += '\n';
    return;
  }
  std::string time;
  append_log_time(time);
  std::string_view trace;
  if (!call_id.empty()) {
    for (const TracedCall& t : g_traced) {
      if (t.call_id == call_id) trace = t.field;
    }
  }
  append_json_line(out, {severity_name(level), message, time, call_id, trace, "hotwrap"});
}

// Past this much queued, relays stop reading commands' stderr (they wait, losing nothing).
constexpr size_t kHighWater = 256 << 10;
// Past this much, lines are dropped and counted: a reader that takes nothing must not grow
// hotwrap's memory. Four high waters leave room for what calls drain at their exit.
constexpr size_t kLimit = 4 * kHighWater;
// At exit: how long the rest of the queue may take to leave.
constexpr int kDetachWaitMs = 1000;

// The non-blocking path to hotwrap's stderr, and the queue in front of it.
//
// fd 2 is an open file description shared with the container runtime (and, in the cold format,
// handed to the command): its O_NONBLOCK flag must never change. A pipe or a terminal is
// reopened through /proc/self/fd/2, which gives a new description of the same pipe or terminal
// whose flags are hotwrap's own; a socket is written with MSG_DONTWAIT; a regular file never
// blocks. Anything else (no /proc) is polled before each write of at most PIPE_BUF bytes, which
// a pipe with room takes whole without waiting.
class Sink {
 public:
  explicit Sink(Loop& loop) : watch_(loop, STDERR_FILENO, EV_WRITE, [this] { flush(); }) {
    struct stat st{};
    if (::fstat(STDERR_FILENO, &st) != 0) return;
    if (S_ISSOCK(st.st_mode)) {
      mode_ = Mode::Socket;
    } else if (S_ISREG(st.st_mode)) {
      mode_ = Mode::Direct;
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
      UniqueFd own(::open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
      if (own) {
        own_ = std::move(own);
        mode_ = Mode::Reopened;
        own_watch_.emplace(loop, own_.get(), EV_WRITE, [this] { flush(); });
      }
    }
  }

  void write(std::string_view line) {
    if (queue_.empty()) {
      size_t n = write_some(line);
      line.remove_prefix(n);
      if (line.empty()) return;
    }
    if (queue_.size() + line.size() > kLimit) {
      ++dropped_lines_;
      dropped_bytes_ += line.size();
      return;
    }
    queue_.append(line);
    arm();
  }

  size_t queued() const { return queue_.size(); }

  void wait(LogWaiter* w) {
    if (std::find(waiters_.begin(), waiters_.end(), w) == waiters_.end()) waiters_.push_back(w);
  }
  void forget(LogWaiter* w) { std::erase(waiters_, w); }

  // Writes the rest within a bounded time, for the end of hotwrap.
  void finish() {
    for (int waited = 0; !queue_.empty() && waited < kDetachWaitMs; waited += 10) {
      flush_queue();
      if (!queue_.empty()) ::usleep(10'000);
    }
    report_dropped();
    flush_queue();
  }

 private:
  enum class Mode { Polled, Reopened, Socket, Direct };

  int fd() const { return mode_ == Mode::Reopened ? own_.get() : STDERR_FILENO; }

  // Writes what the reader takes now, without waiting; returns how much.
  size_t write_some(std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
      std::string_view rest = data.substr(done);
      ssize_t n;
      switch (mode_) {
        case Mode::Socket:
          n = ::send(STDERR_FILENO, rest.data(), rest.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
          break;
        case Mode::Polled: {
          pollfd p{STDERR_FILENO, POLLOUT, 0};
          if (::poll(&p, 1, 0) != 1 || (p.revents & POLLOUT) == 0) return done;
          n = ::write(STDERR_FILENO, rest.data(), std::min<size_t>(rest.size(), PIPE_BUF));
          break;
        }
        default: n = ::write(fd(), rest.data(), rest.size()); break;
      }
      if (n > 0) {
        done += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return done;
      } else {
        return data.size();  // the log is gone: nothing sensible left to do with these bytes
      }
    }
    return done;
  }

  void arm() {
    if (own_watch_) {  // Mode::Reopened
      own_watch_->start();
    } else if (mode_ != Mode::Direct) {
      watch_.start();
    }
  }
  void disarm() {
    watch_.stop();
    if (own_watch_) own_watch_->stop();
  }

  void flush_queue() {
    size_t n = write_some(queue_);
    queue_.erase(0, n);
  }

  void report_dropped() {
    if (dropped_lines_ == 0) return;
    char message[160];
    int n = std::snprintf(message, sizeof message,
                          "the log reader stalled: %llu lines (%llu bytes) of log output were "
                          "dropped",
                          static_cast<unsigned long long>(dropped_lines_),
                          static_cast<unsigned long long>(dropped_bytes_));
    dropped_lines_ = dropped_bytes_ = 0;
    if (n > 0)
      append_own_line(queue_, Level::Warn, {}, std::string_view(message, static_cast<size_t>(n)));
  }

  void flush() {
    flush_queue();
    if (queue_.empty()) {
      report_dropped();  // now that there is room again
      flush_queue();
    }
    if (!queue_.empty()) return;
    disarm();
    if (queue_.capacity() > (64u << 10)) std::string().swap(queue_);
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (LogWaiter* w : waiters) w->log_drained();
  }

  Mode mode_ = Mode::Polled;
  UniqueFd own_;
  Watch watch_;
  std::optional<Watch> own_watch_;
  std::string queue_;
  std::vector<LogWaiter*> waiters_;
  uint64_t dropped_lines_ = 0;
  uint64_t dropped_bytes_ = 0;
};

// The one sink, set by main once the loop exists. A module-private pointer rather than an object
// passed around: every module logs, and log() must keep working before and after the loop.
std::unique_ptr<Sink> g_sink;

void emit(std::string_view line) {
  if (g_sink) {
    g_sink->write(line);
  } else {
    write_all(STDERR_FILENO, line);
  }
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
      // Someone made the descriptor non-blocking (it is shared with the container runtime).
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 1000);
    } else {
      return;  // output gone: nothing sensible left to do with this
    }
  }
}

void log(Level level, std::string_view call_id, const char* fmt, ...) {
  if (!log_enabled(level)) return;
  char message[2048];
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  size_t used = m > 0 ? std::min(static_cast<size_t>(m), sizeof message - 1) : 0;
  // Reused: a line costs no allocation once the first has sized it.
  static std::string line;
  line.clear();
  append_own_line(line, level, call_id, std::string_view(message, used));
  emit(line);
}

void set_log_format(LogFormat format, std::string trace_project) {
  g_format = format;
  g_trace_project = std::move(trace_project);
}

bool log_json() {
  return g_format == LogFormat::Json;
}

std::string log_trace_field(std::string_view trace_id) {
  if (g_format != LogFormat::Json || g_trace_project.empty() || trace_id.empty()) return {};
  return "projects/" + g_trace_project + "/traces/" + std::string(trace_id);
}

LogTrace::LogTrace(std::string_view call_id, std::string_view trace_id) {
  std::string field = log_trace_field(trace_id);
  if (field.empty() || call_id.empty()) return;
  registered_ = true;
  g_traced.push_back({this, std::string(call_id), std::move(field)});
}

LogTrace::~LogTrace() {
  if (registered_)
    std::erase_if(g_traced, [this](const TracedCall& t) { return t.holder == this; });
}

namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not one
// (overlong forms, surrogates, past U+10FFFF, truncated).
size_t utf8_length(std::string_view s, size_t i) {
  auto at = [&](size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    unsigned b = at(k);
    return b >= lo && b <= hi;
  };
  unsigned c = at(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c >= 0xE1 && c <= 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

bool plain(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (plain(c)) {
      size_t j = i + 1;
      while (j < s.size() && plain(static_cast<unsigned char>(s[j]))) ++j;
      out.append(s.substr(i, j - i));
      i = j;
      continue;
    }
    if (c >= 0x80) {
      size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\u%04x", c);
        out += esc;
      }
    }
    ++i;
  }
  out += '"';
}

void append_json_line(std::string& out, const JsonLine& line) {
  out += "{\"severity\":\"";
  out += line.severity;
  out += "\",\"message\":";
  append_json_string(out, line.message);
  out += ",\"time\":\"";
  out += line.time;
  out += '"';
  if (!line.call_id.empty()) {
    out += ",\"call_id\":";
    append_json_string(out, line.call_id);
  }
  if (!line.trace.empty()) {
    out += ",\"logging.googleapis.com/trace\":";
    append_json_string(out, line.trace);
  }
  out += ",\"source\":\"";
  out += line.source;
  out += "\"}\n";
}

void append_log_time(std::string& out) {
  // Not gmtime_r: it brings glibc's time zone file reader into the static binary.
  out += format_rfc3339_ms(
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()));
}

void log_relay(std::string_view lines) {
  emit(lines);
}

bool log_congested() {
  return g_sink && g_sink->queued() > kHighWater;
}

size_t log_queued() {
  return g_sink ? g_sink->queued() : 0;
}

LogWaiter::~LogWaiter() {
  if (g_sink) g_sink->forget(this);
}

void log_wait(LogWaiter* waiter) {
  if (g_sink) g_sink->wait(waiter);
}

void log_attach(Loop& loop) {
  g_sink = std::make_unique<Sink>(loop);
}

void log_detach() {
  if (!g_sink) return;
  g_sink->finish();
  g_sink.reset();
}

}  // namespace hotwrap
