#include "hotwrap/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string_view>

namespace hotwrap {

namespace {

sigset_t g_reset_to_default;  // written once by capture_inherited_signal_state()

struct SpawnAttr {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnAttr() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttr() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
};

}  // namespace

void capture_inherited_signal_state() {
  sigemptyset(&g_reset_to_default);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction sa{};
    if (::sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler == SIG_IGN) {
      sigaddset(&g_reset_to_default, sig);
    }
  }
  sigaddset(&g_reset_to_default, SIGPIPE);
}

Result<Child> spawn_command(const char* path, char* const* argv, char* const* envp,
                            StdioPlan plan) {
  Child child;
  // The child's ends are closed here once it has them; ours stay in `child`.
  UniqueFd child_in, child_out, child_err;
  auto plumb = [](Stdio how, bool child_reads, UniqueFd& ours, UniqueFd& theirs) -> Result<void> {
    if (how == Stdio::Inherit) return {};
    auto p = make_pipe(!child_reads, child_reads);
    if (!p) return std::unexpected(p.error());
    ours = child_reads ? std::move(p->write) : std::move(p->read);
    theirs = child_reads ? std::move(p->read) : std::move(p->write);
    return {};
  };
  if (auto r = plumb(plan.in, true, child.in, child_in); !r) return std::unexpected(r.error());
  if (auto r = plumb(plan.out, false, child.out, child_out); !r) return std::unexpected(r.error());
  if (auto r = plumb(plan.err, false, child.err, child_err); !r) return std::unexpected(r.error());

  SpawnAttr sa;
  // dup2 onto 0/1/2 clears close-on-exec for the child's copy only; every other descriptor of
  // hotwrap is close-on-exec, so the child inherits nothing else.
  if (child_in) posix_spawn_file_actions_adddup2(&sa.actions, child_in.get(), STDIN_FILENO);
  if (child_out) posix_spawn_file_actions_adddup2(&sa.actions, child_out.get(), STDOUT_FILENO);
  if (child_err) posix_spawn_file_actions_adddup2(&sa.actions, child_err.get(), STDERR_FILENO);
  // Given hotwrap's terminal as its stdin (the default format under `docker run -it`), the
  // command in its own process group would be a background job there: its first read stops it
  // with SIGTTIN and the call hangs. It becomes the terminal's foreground group instead, as the
  // job a shell runs does. (glibc does this in the child with every signal still blocked, so
  // the SIGTTOU a background tcsetpgrp would raise is not an issue.)
  if (plan.in == Stdio::Inherit && ::isatty(STDIN_FILENO) == 1 &&
      ::tcgetpgrp(STDIN_FILENO) == ::getpgrp()) {
    posix_spawn_file_actions_addtcsetpgrp_np(&sa.actions, STDIN_FILENO);
  }
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&sa.attr, &empty);
  posix_spawnattr_setsigdefault(&sa.attr, &g_reset_to_default);
  posix_spawnattr_setpgroup(&sa.attr, 0);
  posix_spawnattr_setflags(&sa.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, path, &sa.actions, &sa.attr, argv, envp);
  if (err != 0) return sys_fail("posix_spawn", err);
  child.pid = pid;
  return child;
}

Result<std::string> find_executable(const std::string& name, const char* path_env) {
  auto check = [](const std::string& path) -> int {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return ENOENT;
    if (S_ISDIR(st.st_mode) || ::access(path.c_str(), X_OK) != 0) return EACCES;
    return 0;
  };
  if (name.empty()) return sys_fail("execvp", ENOENT);
  if (name.find('/') != std::string::npos) {
    int err = check(name);
    if (err != 0) return sys_fail("execvp", err);
    return name;
  }
  // posix_spawnp's default search path when PATH is unset.
  std::string_view path = path_env != nullptr ? path_env : "/bin:/usr/bin";
  int seen = ENOENT;
  while (true) {
    size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    std::string candidate = dir.empty() ? name : std::string(dir) + "/" + name;
    int err = check(candidate);
    if (err == 0) return candidate;
    if (err == EACCES) seen = EACCES;
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  return sys_fail("execvp", seen);
}

int exit_code_from_status(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 255;
}

int exit_code_for_spawn_error(int err) {
  return err == ENOENT ? 127 : 126;
}

}  // namespace hotwrap
