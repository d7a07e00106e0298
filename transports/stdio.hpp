// hotwrap's own stdin and stdout as a transport (the hot stdio formats).
#pragma once

#include <expected>
#include <string>

namespace hotwrap {

// Makes stdin and stdout non-blocking for as long as it lives (the loop must never wait on them)
// and puts their original flags back when destroyed: the flags belong to open file descriptions
// hotwrap shares with whoever started it, a shell's terminal for one.
class StdioNonBlocking {
 public:
  StdioNonBlocking() = default;
  ~StdioNonBlocking();
  StdioNonBlocking(const StdioNonBlocking&) = delete;
  StdioNonBlocking& operator=(const StdioNonBlocking&) = delete;

  // A failure is a start-up error line.
  std::expected<void, std::string> apply();

  // True when stderr shares its open file description with stdin or stdout (all three are one
  // terminal, say), so that apply() made it non-blocking too: then it is no stderr to hand to
  // the command as it is.
  bool stderr_caught() const { return stderr_caught_; }

 private:
  int saved_[2] = {-1, -1};  // original flags of fd 0 and 1; -1: untouched
  bool stderr_caught_ = false;
};

}  // namespace hotwrap
