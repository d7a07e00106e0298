// `hotwrap replay DIR [--update] [-- command...]`: runs every call captured under DIR
// (HOTWRAP_CAPTURE_DIR, layout in hotwrap/capture.hpp) again, through the same runner, against
// the captured command or the one given, and says per call whether the status and the body the
// contract would answer match the captured answer, with the first difference. A regression test
// made of real traffic.
#pragma once

#include <string>

#include "hotwrap/config.hpp"

namespace hotwrap {

struct ReplayRequest {
  std::string dir;      // a capture directory, or one call's directory in it
  bool update = false;  // rewrite the expected answers with what the command answers now
};

// Runs the replay; prints a line per call and a summary on stdout. Exit code: 0 when every call
// matched (or --update), 1 when one differed, 2 when DIR holds no capture. `config.command`,
// when not empty, replaces the captured command; `signal_fd` delivers SIGCHLD.
int run_replay(const ReplayRequest& request, const Config& config, int signal_fd,
               const char* const* base_env);

// Where `got` first differs from `expected`, as lines for a person: the byte offset, the line
// number and both lines (escaped, bounded); empty when they are equal.
std::string first_difference(std::string_view expected, std::string_view got);

}  // namespace hotwrap
