#include "hotwrap/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace hotwrap {

namespace {

sigset_t g_reset_to_default;  // written once by capture_inherited_signal_state()

// Owns a posix_spawnattr_t; destroys it only if it was initialised.
class SpawnAttr {
 public:
  SpawnAttr() : init_err_(::posix_spawnattr_init(&attr_)) {}
  ~SpawnAttr() {
    if (init_err_ == 0) ::posix_spawnattr_destroy(&attr_);
  }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;

  int init_error() const { return init_err_; }
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_{};
  int init_err_;
};

// Owns a posix_spawn_file_actions_t; destroys it only if it was initialised.
class SpawnFileActions {
 public:
  SpawnFileActions() : init_err_(::posix_spawn_file_actions_init(&actions_)) {}
  ~SpawnFileActions() {
    if (init_err_ == 0) ::posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;

  int init_error() const { return init_err_; }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_{};
  int init_err_;
};

}  // namespace

void capture_inherited_signal_state() {
  // Every signal, filled byte-wise: sigfillset and sigaddset leave out glibc's two internal
  // real-time signals (32, 33), which its posix_spawn otherwise leaves ignored in the child, and
  // an ignored signal survives exec. Whatever hotwrap inherited or set (SIGPIPE), the command
  // starts with every disposition at its default.
  std::memset(&g_reset_to_default, 0xff, sizeof g_reset_to_default);
}

// Enough for the descriptor numbers of a few calls running at once; a call past them builds its
// file actions as before.
constexpr size_t kKeptActions = 8;

class Spawner::Actions {
 public:
  Actions(int in, int out, int err, bool tcsetpgrp)
      : in_(in), out_(out), err_(err), tcsetpgrp_(tcsetpgrp) {}
  bool matches(int in, int out, int err, bool tcsetpgrp) const {
    return in == in_ && out == out_ && err == err_ && tcsetpgrp == tcsetpgrp_;
  }
  // Adds the dup2s onto 0/1/2 (and the terminal hand-over); false with the error on failure.
  Result<void> build() {
    if (file_actions_.init_error() != 0)
      return sys_fail("posix_spawn_file_actions_init", file_actions_.init_error());
    // dup2 onto 0/1/2 clears close-on-exec for the child's copy only; every other descriptor of
    // hotwrap is close-on-exec, so the child inherits nothing else.
    for (auto [fd, target] : {std::pair{in_, STDIN_FILENO}, std::pair{out_, STDOUT_FILENO},
                              std::pair{err_, STDERR_FILENO}}) {
      if (fd < 0) continue;
      if (int err = ::posix_spawn_file_actions_adddup2(file_actions_.get(), fd, target); err != 0)
        return sys_fail("posix_spawn_file_actions_adddup2", err);
    }
    if (tcsetpgrp_) {
      if (int err = ::posix_spawn_file_actions_addtcsetpgrp_np(file_actions_.get(), STDIN_FILENO);
          err != 0)
        return sys_fail("posix_spawn_file_actions_addtcsetpgrp_np", err);
    }
    return {};
  }
  const posix_spawn_file_actions_t* get() { return file_actions_.get(); }

 private:
  int in_, out_, err_;
  bool tcsetpgrp_;
  SpawnFileActions file_actions_;
};

Spawner::Spawner() = default;
Spawner::~Spawner() = default;

Result<Spawner::Actions*> Spawner::actions_for(int in, int out, int err, bool tcsetpgrp) {
  for (auto& a : kept_) {
    if (a->matches(in, out, err, tcsetpgrp)) return a.get();
  }
  auto fresh = std::make_unique<Actions>(in, out, err, tcsetpgrp);
  if (auto r = fresh->build(); !r) return std::unexpected(r.error());
  if (kept_.size() < kKeptActions) {
    kept_.push_back(std::move(fresh));
    return kept_.back().get();
  }
  // Full: the oldest slot goes (in the steady state the same few sets come back in turn).
  size_t slot = next_slot_;
  next_slot_ = (next_slot_ + 1) % kKeptActions;
  kept_[slot] = std::move(fresh);
  return kept_[slot].get();
}

Result<Child> spawn_command(const char* path, char* const* argv, char* const* envp,
                            StdioPlan plan) {
  Spawner once;
  return once.spawn(path, argv, envp, plan);
}

Result<Child> Spawner::spawn(const char* path, char* const* argv, char* const* envp,
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

  // Given hotwrap's terminal as its stdin (the default format under `docker run -it`), the
  // command in its own process group would be a background job there: its first read stops it
  // with SIGTTIN and the call hangs. It becomes the terminal's foreground group instead, as the
  // job a shell runs does. (glibc does this in the child with every signal still blocked, so
  // the SIGTTOU a background tcsetpgrp would raise is not an issue.)
  bool tcsetpgrp = plan.in == Stdio::Inherit && ::isatty(STDIN_FILENO) == 1 &&
                   ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
  auto actions = actions_for(child_in.get(), child_out.get(), child_err.get(), tcsetpgrp);
  if (!actions) return std::unexpected(actions.error());
  // The set-up calls, like posix_spawn, return their error number rather than setting errno.
  SpawnAttr attr;
  if (attr.init_error() != 0) return sys_fail("posix_spawnattr_init", attr.init_error());
  sigset_t empty;
  sigemptyset(&empty);
  if (int err = ::posix_spawnattr_setsigmask(attr.get(), &empty); err != 0)
    return sys_fail("posix_spawnattr_setsigmask", err);
  if (int err = ::posix_spawnattr_setsigdefault(attr.get(), &g_reset_to_default); err != 0)
    return sys_fail("posix_spawnattr_setsigdefault", err);
  if (int err = ::posix_spawnattr_setpgroup(attr.get(), 0); err != 0)
    return sys_fail("posix_spawnattr_setpgroup", err);
  const short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (int err = ::posix_spawnattr_setflags(attr.get(), flags); err != 0)
    return sys_fail("posix_spawnattr_setflags", err);
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, path, (*actions)->get(), attr.get(), argv, envp);
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
