// A command's stderr as it reaches the log: read from its pipe, passed on line by line (each
// line prefixed with the call id when asked, or, with JSON logs, each line one JSON object with
// the call id and trace in their fields), an overlong line in pieces, a last line without its
// newline ended; the end of it kept for a failed call's answer.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "hotwrap/fd.hpp"
#include "hotwrap/log.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/stream.hpp"

namespace hotwrap {

class StderrRelay final : private LogWaiter {
 public:
  // `fd` is a pipe's read end. With `prefix_lines`, "[<call id>] " goes before every line; with
  // JSON logs, `call_id` and `trace_id` go in each line's fields instead. Nothing is read before
  // start().
  StderrRelay(Loop& loop, UniqueFd fd, bool prefix_lines, std::string call_id = {},
              std::string_view trace_id = {});
  StderrRelay(const StderrRelay&) = delete;
  StderrRelay& operator=(const StderrRelay&) = delete;

  void start() {
    started_ = true;
    if (!waiting_) reader_.start();
  }
  // Takes what the pipe already holds, up to `limit` bytes, without waiting (the command has
  // exited; something it left behind may still hold the pipe open), and ends a last line.
  void drain(size_t limit);
  // The last lines written (at most 20 lines, 2 KiB), without a trailing newline.
  std::string tail() const;

 private:
  void on_data(std::string_view bytes);
  void end_line();
  // Passes on `text`: a whole line (`ends`) or a piece of an overlong one.
  void put(std::string_view text, bool ends);
  // The log sink drained: read the command's stderr again.
  void log_drained() override;

  UniqueFd fd_;
  bool prefix_lines_;
  std::string call_id_;
  std::string trace_;  // the JSON trace field's value, or empty
  bool json_;
  FdReader reader_;
  std::string line_;  // an unfinished line
  std::string out_;   // reused for the lines written to the log
  std::string recent_;
  bool mid_line_ = false;  // part of the current line has been passed on already
  bool started_ = false;
  bool waiting_ = false;  // for the log sink to drain
};

}  // namespace hotwrap
