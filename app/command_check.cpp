#include "app/command_check.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "hotwrap/fd.hpp"
#include "hotwrap/spawn.hpp"

namespace hotwrap {

namespace {

// The first line of `path` when it starts with "#!" (at most what the kernel reads of it).
std::string shebang_line(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  char buf[256];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  if (n < 2 || buf[0] != '#' || buf[1] != '!') return {};
  std::string_view line(buf + 2, static_cast<size_t>(n) - 2);
  return std::string(line.substr(0, line.find('\n')));
}

std::string_view next_word(std::string_view& s) {
  size_t start = s.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    s = {};
    return {};
  }
  s.remove_prefix(start);
  size_t end = s.find_first_of(" \t");
  std::string_view w = s.substr(0, end);
  s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  return w;
}

}  // namespace

std::expected<void, CommandProblem> check_command(const std::string& name, const char* path_env) {
  std::string path_text = path_env != nullptr ? path_env : "unset";
  auto exe = find_executable(name, path_env);
  if (!exe) {
    int err = exe.error().err;
    return std::unexpected(CommandProblem{"command '" + name + "' " +
                                              (err == ENOENT ? "not found" : "is not executable") +
                                              " (PATH=" + path_text + "); check the image's CMD",
                                          exit_code_for_spawn_error(err)});
  }
  std::string line = shebang_line(*exe);
  if (line.empty()) return {};
  std::string_view rest = line;
  std::string interp(next_word(rest));
  if (!interp.empty() && interp.back() == '\r') {
    interp.pop_back();
    return std::unexpected(
        CommandProblem{"the first line of " + *exe +
                           " ends in CR (the script was saved with Windows line "
                           "endings), so the kernel looks for the interpreter '" +
                           interp +
                           "\\r'; convert the "
                           "script with dos2unix or sed -i 's/\\r$//' " +
                           *exe,
                       127});
  }
  if (!rest.empty() && rest.back() == '\r') {
    return std::unexpected(
        CommandProblem{"the first line of " + *exe +
                           " ends in CR (the script was saved with Windows line "
                           "endings), so '" +
                           interp +
                           "' gets an argument ending in '\\r'; convert the script with "
                           "dos2unix or sed -i 's/\\r$//' " +
                           *exe,
                       127});
  }
  if (interp.empty()) return {};  // "#!" alone: the kernel refuses it; posix_spawn says so
  if (::access(interp.c_str(), F_OK) != 0) {
    return std::unexpected(CommandProblem{
        "the interpreter '" + interp + "' named on the first line of " + *exe +
            " does not exist in this image; install it or change the script's #! line",
        127});
  }
  if (::access(interp.c_str(), X_OK) != 0) {
    return std::unexpected(CommandProblem{"the interpreter '" + interp +
                                              "' named on the first line of " + *exe +
                                              " is not executable",
                                          126});
  }
  if (interp.ends_with("/env")) {
    // `#!/usr/bin/env node`: env looks `node` up in PATH at every call.
    std::string_view args = rest;
    std::string_view prog = next_word(args);
    while (prog.starts_with("-")) prog = next_word(args);  // -S and the like
    if (!prog.empty() && !prog.contains('=') && !find_executable(std::string(prog), path_env)) {
      return std::unexpected(CommandProblem{
          "'" + std::string(prog) + "', which the first line of " + *exe + " runs through " +
              interp + ", is not found (PATH=" + path_text + "); install it or change the #! line",
          127});
    }
  }
  return {};
}

}  // namespace hotwrap
