#include "hotwrap/stderr_relay.hpp"

namespace hotwrap {

namespace {
// A "line" longer than this is passed on in pieces rather than held.
constexpr size_t kMaxLine = 16 << 10;
// What tail() gives: the last lines, at most this much.
constexpr size_t kTailBytes = 2048;
constexpr size_t kTailLines = 20;
}  // namespace

StderrRelay::StderrRelay(Loop& loop, UniqueFd fd, bool prefix_lines, std::string call_id,
                         std::string_view trace_id)
    : fd_(std::move(fd)),
      prefix_lines_(prefix_lines),
      call_id_(std::move(call_id)),
      trace_(log_trace_field(trace_id)),
      json_(log_json()),
      reader_(
          loop, fd_.get(), [this](std::string_view b) { on_data(b); }, [this](int) { end_line(); },
          FdReader::Kind::Pollable) {}

void StderrRelay::drain(size_t limit) {
  reader_.drain(limit);
  end_line();
}

void StderrRelay::on_data(std::string_view bytes) {
  // More than a few tails' worth is never kept.
  recent_.append(bytes);
  if (recent_.size() > 4 * kTailBytes) recent_.erase(0, recent_.size() - kTailBytes);
  out_.clear();
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      line_.append(bytes);
      if (line_.size() >= kMaxLine) {
        put(line_, false);
        line_.clear();
        mid_line_ = true;
      }
      break;
    }
    if (line_.empty()) {
      put(bytes.substr(0, nl), true);
    } else {
      line_.append(bytes.substr(0, nl));
      put(line_, true);
      line_.clear();
    }
    mid_line_ = false;
    bytes.remove_prefix(nl + 1);
  }
  if (!out_.empty()) log_relay(out_);
  if (log_congested() && !waiting_) {
    // The log reader is behind: the command waits on its stderr, as it would writing to a slow
    // stderr of its own, instead of hotwrap's memory growing or its lines being lost.
    waiting_ = true;
    reader_.stop();
    log_wait(this);
  }
}

void StderrRelay::put(std::string_view text, bool ends) {
  if (!json_) {
    // The prefix made here, not kept: most commands write nothing to stderr.
    if (!mid_line_ && prefix_lines_) out_.append(1, '[').append(call_id_).append("] ");
    out_.append(text);
    if (ends) out_ += '\n';
    return;
  }
  // Each piece is an object of its own; the end of a line that went out whole in pieces adds
  // no empty one.
  if (text.empty() && mid_line_) return;
  std::string time;
  append_log_time(time);
  // DEFAULT, not ERROR: programs write all their diagnostics to stderr, not only errors.
  append_json_line(out_, {"DEFAULT", text, time, call_id_, trace_, "command"});
}

void StderrRelay::log_drained() {
  waiting_ = false;
  if (started_) reader_.start();
}

void StderrRelay::end_line() {
  // A last line without its newline is still a line: end it, so the next one starts clean.
  if (!line_.empty() || mid_line_) on_data("\n");
}

std::string StderrRelay::tail() const {
  std::string_view text = recent_;
  while (text.ends_with('\n')) text.remove_suffix(1);
  size_t start = text.size() > kTailBytes ? text.size() - kTailBytes : 0;
  if (start > 0) {
    size_t nl = text.find('\n', start);
    if (nl != std::string_view::npos) start = nl + 1;  // no half line at the top
  }
  size_t lines = 0;
  for (size_t i = text.size(); i > start; --i) {
    if (text[i - 1] == '\n' && ++lines == kTailLines) {
      start = i;
      break;
    }
  }
  return std::string(text.substr(start));
}

}  // namespace hotwrap
