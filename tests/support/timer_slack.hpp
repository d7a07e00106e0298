// The timer slack of a process as the kernel reports it: shared by the unit test of the spawner
// and the end-to-end test of the built binary, which both check what a command inherits.
#pragma once

#include <fstream>
#include <string>

namespace hotwrap::testing {

// `proc` is a pid or "self"; -1 if the file cannot be read.
inline long timer_slack_of(const std::string& proc) {
  std::ifstream f("/proc/" + proc + "/timerslack_ns");
  long v = -1;
  f >> v;
  return v;
}

}  // namespace hotwrap::testing
