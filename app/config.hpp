// Reading the configuration: HOTWRAP_* environment variables with matching --flags, parsed
// before the loop.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "hotwrap/config.hpp"

namespace hotwrap {

// What the command line asked for.
enum class Action { Run, Help, Version, Licenses, Replay };

struct Parsed {
  Action action = Action::Run;
  Config config;
  // `hotwrap replay DIR [--update] [-- command...]`: config.command is the one given, or empty.
  std::string replay_dir;
  bool replay_update = false;
};

// Parses flags (which win) over HOTWRAP_* variables looked up with `getenv_fn`.
// Errors are one line: what is wrong and how to fix it.
std::expected<Parsed, std::string> parse_config(int argc, const char* const* argv,
                                                const char* (*getenv_fn)(const char*));

// One warning line for each variable of `envp` that looks meant for hotwrap but is not read:
// an unknown HOTWRAP_* name (with the closest real one) or another wrapper's setting (with
// hotwrap's own). Variables hotwrap sets for its commands are not warned about.
std::vector<std::string> config_warnings(const char* const* envp);

// The --help text: usage and every option with its variable and default.
std::string help_text();

}  // namespace hotwrap
