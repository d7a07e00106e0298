// Start-up checks of the command: what would make every call fail is found before the first one.
#pragma once

#include <expected>
#include <string>

namespace hotwrap {

struct CommandProblem {
  std::string message;  // one line: what, why, how to fix
  int exit_code;        // as a shell reports it: 127 not found, 126 not executable
};

// Finds `name` in `path_env` (as posix_spawnp would) and, for a script, its `#!` interpreter: a
// missing interpreter, a `#!` line ending in CR (a script saved with Windows line endings: the
// kernel looks for "sh\r"), and `#!/usr/bin/env prog` with prog not in PATH all fail every call
// with ENOENT, so they stop hotwrap here instead.
std::expected<void, CommandProblem> check_command(const std::string& name, const char* path_env);

}  // namespace hotwrap
