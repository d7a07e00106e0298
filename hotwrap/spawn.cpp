#include "hotwrap/spawn.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace hotwrap {

namespace {

// posix_spawn's set of signals reset to default: every one (see capture_inherited_signal_state).
sigset_t g_reset_to_default;  // written once by capture_inherited_signal_state()

// The signals a clone()d child resets before its exec: those whose disposition in hotwrap is not
// the default. SIGPIPE always (hotwrap ignores it), whatever else capture_inherited_signal_state()
// finds. Not all 64: a reset is a system call in the child, 62 of them were 6 µs of every call.
struct SignalList {
  int count = 1;
  int signo[64] = {SIGPIPE};
};
SignalList g_clone_resets;  // written once by capture_inherited_signal_state()
// Whether a handler of hotwrap's could run in a clone()d child before its exec: there is one for
// a signal that can be blocked. Until capture_inherited_signal_state() has looked, assume so.
bool g_handler_in_child = true;
// The timer slack hotwrap inherited, given back to each child; 0 while hotwrap's is unchanged.
// (A fork's child starts with its parent's slack, and prctl's "reset" returns it to that.)
long g_inherited_slack = 0;

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

// A system call for a child that shares hotwrap's memory until its exec: it must not write
// errno (that is hotwrap's running thread's) nor any other state of the C library's, so it calls
// the kernel directly and gets -errno back.
[[gnu::always_inline]] inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0,
                                               long d = 0) {
#if defined(__x86_64__)
  long ret;
  register long r10 asm("r10") = d;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
               : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 asm("x8") = n;
  register long x0 asm("x0") = a;
  register long x1 asm("x1") = b;
  register long x2 asm("x2") = c;
  register long x3 asm("x3") = d;
  asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
#else
#error "raw_syscall: x86_64 and aarch64 only"
#endif
}

}  // namespace

void capture_inherited_signal_state() {
  // Every signal, filled byte-wise: sigfillset and sigaddset leave out glibc's two internal
  // real-time signals (32, 33), which its posix_spawn otherwise leaves ignored in the child, and
  // an ignored signal survives exec. Whatever hotwrap inherited or set (SIGPIPE), the command
  // starts with every disposition at its default.
  std::memset(&g_reset_to_default, 0xff, sizeof g_reset_to_default);
  // For the clone()d child: every disposition that is not the default now. An ignored one would
  // survive exec; a handler would not, but is reset too so that none of hotwrap's can run in the
  // child between its empty mask and its exec. Asked of the kernel directly: glibc's sigaction
  // refuses its own real-time signals (32, 33), and an inherited SIG_IGN on them counts too.
  SignalList found;
  found.count = 0;
  bool handler = false;
  for (int sig = 1; sig <= 64; ++sig) {
    long act[4] = {};  // the kernel's struct sigaction; act[0] is the handler
    bool ignored_by_hotwrap = sig == SIGPIPE;
    if (ignored_by_hotwrap ||
        (raw_syscall(SYS_rt_sigaction, sig, 0, long(act), 8) == 0 && act[0] != long(SIG_DFL))) {
      found.signo[found.count++] = sig;
      // glibc's own two (32, 33) cannot be blocked by pthread_sigmask, and are never sent to a
      // single-threaded process; SIG_IGN runs nothing.
      handler =
          handler || (!ignored_by_hotwrap && act[0] != long(SIG_IGN) && sig != 32 && sig != 33);
    }
  }
  g_clone_resets = found;
  // The release binary installs no handler (its signals are read from a signalfd); a sanitizer's
  // or a test framework's does.
  g_handler_in_child = handler;
}

bool widen_timer_slack() {
  // Asked of the kernel directly: glibc's prctl returns an int.
  long was = ::syscall(SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0);
  if (was <= 0 || was >= kTimerSlackNs) return false;
  if (::prctl(PR_SET_TIMERSLACK, kTimerSlackNs, 0, 0, 0) != 0) return false;
  g_inherited_slack = was;
  return true;
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

// A NoWait child's start: what it reads until its exec, in memory hotwrap leaves alone until the
// child has been reaped.
struct Spawner::Launch {
  static constexpr size_t kStackBytes = 32 << 10;  // the child calls only the kernel
  std::unique_ptr<char[]> stack{new char[kStackBytes]};
  std::string strings;          // path, argv and envp, each NUL-terminated
  std::vector<char*> pointers;  // argv then envp, each null-terminated, into `strings`
  char** argv = nullptr;
  char** envp = nullptr;
  int fds[3] = {-1, -1, -1};  // onto 0, 1, 2
  bool tcsetpgrp = false;
  std::atomic<int> exec_errno{0};

  // Copies what the child needs, but the first `stable_env` strings of envp_in: those stay put.
  void set(const char* path, char* const* argv_in, char* const* envp_in, size_t stable_env) {
    size_t argc = 0, envc = 0, bytes = std::strlen(path) + 1;
    for (; argv_in[argc] != nullptr; ++argc) bytes += std::strlen(argv_in[argc]) + 1;
    for (; envp_in[envc] != nullptr; ++envc) {
      if (envc >= stable_env) bytes += std::strlen(envp_in[envc]) + 1;
    }
    // Sized whole first: nothing below reallocates, so each pointer taken stays valid.
    strings.assign(bytes, '\0');
    pointers.clear();
    pointers.reserve(argc + envc + 2);
    size_t used = 0;
    auto add = [&](const char* text) {
      size_t n = std::strlen(text) + 1;  // with its NUL
      char* at = strings.data() + used;
      std::memcpy(at, text, n);
      used += n;
      return at;
    };
    add(path);
    for (size_t i = 0; i < argc; ++i) pointers.push_back(add(argv_in[i]));
    pointers.push_back(nullptr);
    for (size_t i = 0; i < envc; ++i)
      pointers.push_back(i < stable_env ? envp_in[i] : add(envp_in[i]));
    pointers.push_back(nullptr);
    argv = pointers.data();
    envp = pointers.data() + argc + 1;
    exec_errno.store(0, std::memory_order_relaxed);
  }

  // The child, from clone() to its exec: the parent's mask at the clone still in force (the
  // signals hotwrap reads from its signalfd; every signal where hotwrap has a handler or the
  // child takes the terminal), those not at their default set back to it, its own process group,
  // the terminal's foreground if it is given one, its stdio, the inherited timer slack, then an
  // empty mask and the exec. A failure is left in exec_errno for hotwrap, and the child exits
  // 127. Not instrumented: a sanitizer's bookkeeping is the parent thread's, which goes on
  // running.
  __attribute__((no_sanitize("address", "undefined"))) static int run(void* self) {
    auto* l = static_cast<Launch*>(self);
    long dfl[4] = {};  // the kernel's struct sigaction: SIG_DFL, no flags, empty mask
    for (int i = 0; i < g_clone_resets.count; ++i) {
      raw_syscall(SYS_rt_sigaction, g_clone_resets.signo[i], long(dfl), 0, 8);
    }
    long r = raw_syscall(SYS_setpgid, 0, 0);
    if (r == 0 && l->tcsetpgrp) {
      pid_t me = static_cast<pid_t>(raw_syscall(SYS_getpid));
      r = raw_syscall(SYS_ioctl, STDIN_FILENO, TIOCSPGRP, long(&me));
    }
    for (long target = 0; target < 3 && r >= 0; ++target) {
      int fd = l->fds[target];
      if (fd < 0) continue;
      // dup3 refuses fd == target; there only close-on-exec must go.
      r = fd == target ? raw_syscall(SYS_fcntl, fd, F_SETFD, 0)
                       : raw_syscall(SYS_dup3, fd, target, 0);
    }
    // Back to the slack hotwrap was started with. Refused, the command keeps hotwrap's: no
    // reason to fail it.
    if (r >= 0 && g_inherited_slack > 0) {
      raw_syscall(SYS_prctl, PR_SET_TIMERSLACK, g_inherited_slack);
    }
    if (r >= 0) {
      uint64_t none = 0;
      raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&none), 0, 8);
      r = raw_syscall(SYS_execve, long(l->strings.data()), long(l->argv), long(l->envp));
    }
    l->exec_errno.store(static_cast<int>(-r), std::memory_order_relaxed);
    raw_syscall(SYS_exit_group, 127);
    return 127;
  }
};

Spawner::Spawner(Mode mode) : mode_(mode) {}
Spawner::~Spawner() = default;

std::optional<Result<pid_t>> Spawner::launch(const char* path, char* const* argv, char* const* envp,
                                             size_t stable_env, int in, int out, int err,
                                             bool tcsetpgrp) {
  std::unique_ptr<Launch> l;
  if (!spare_.empty()) {
    l = std::move(spare_.back());
    spare_.pop_back();
  } else {
    l = std::make_unique<Launch>();
  }
  l->set(path, argv, envp, stable_env);
  l->fds[0] = in;
  l->fds[1] = out;
  l->fds[2] = err;
  l->tcsetpgrp = tcsetpgrp;
  // Every signal blocked across the clone and in the child until its exec: so that no handler of
  // hotwrap's runs in the child (sharing its memory) before the child resets it, and so that
  // taking the terminal's foreground from a background group raises no SIGTTOU. With neither, the
  // two system calls are saved: the signals hotwrap handles are blocked anyway (signalfd).
  const bool block = g_handler_in_child || tcsetpgrp;
  sigset_t all, old;
  if (block) {
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
  }
  pid_t pid =
      ::clone(&Launch::run, l->stack.get() + Launch::kStackBytes, CLONE_VM | SIGCHLD, l.get());
  int clone_err = errno;
  if (block) ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    spare_.push_back(std::move(l));
    // Refused as such (an emulator, a sandbox's filter), not for want of resources: posix_spawn.
    if (clone_err == EINVAL || clone_err == EPERM || clone_err == ENOSYS) {
      mode_ = Mode::WaitForExec;
      return std::nullopt;
    }
    return sys_fail("clone", clone_err);
  }
  // Its own group at once for whoever signals it next, whether the child has got that far or
  // not (EACCES once it has exec'd: then it has done this itself).
  ::setpgid(pid, pid);
  launches_.emplace_back(pid, std::move(l));
  return pid;
}

int Spawner::exec_error(pid_t pid) const {
  auto it = std::ranges::find(launches_, pid, &decltype(launches_)::value_type::first);
  return it == launches_.end() ? 0 : it->second->exec_errno.load(std::memory_order_relaxed);
}

void Spawner::reaped(pid_t pid) {
  auto it = std::ranges::find(launches_, pid, &decltype(launches_)::value_type::first);
  if (it == launches_.end()) return;
  // A few kept for the next children: a stack and buffers that are already there.
  if (spare_.size() < 16) spare_.push_back(std::move(it->second));
  *it = std::move(launches_.back());
  launches_.pop_back();
}

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

Result<Child> Spawner::spawn(const char* path, char* const* argv, char* const* envp, StdioPlan plan,
                             size_t stable_env) {
  Child child;
  // The child's ends are closed here once it has them; ours stay in `child`.
  UniqueFd child_in, child_out, child_err;
  auto plumb = [](Stdio how, bool child_reads, UniqueFd& ours, UniqueFd& theirs) -> Result<void> {
    if (how == Stdio::Inherit) return {};
    auto p = make_pipe(false, false);
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
  // Our ends become non-blocking once the child runs: until then the child waits for nothing
  // but the system calls before its clone. (Ours and the child's ends are separate open files:
  // the flag never reaches the child.)
  auto started = [&child](pid_t pid) -> Result<Child> {
    child.pid = pid;
    for (const UniqueFd* ours : {&child.in, &child.out, &child.err}) {
      if (!*ours) continue;
      if (auto r = set_nonblocking(ours->get()); !r) {
        ::kill(pid, SIGKILL);  // reaped as any other child; nobody waits for its answer
        return std::unexpected(r.error());
      }
    }
    return std::move(child);
  };
  if (mode_ == Mode::NoWait) {
    if (auto pid = launch(path, argv, envp, stable_env, child_in.get(), child_out.get(),
                          child_err.get(), tcsetpgrp)) {
      if (!*pid) return std::unexpected(pid->error());
      return started(**pid);
    }
  }
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
  // posix_spawn has no attribute for it: the child takes the slack of this thread at the clone.
  if (g_inherited_slack > 0) ::prctl(PR_SET_TIMERSLACK, g_inherited_slack, 0, 0, 0);
  int err = ::posix_spawn(&pid, path, (*actions)->get(), attr.get(), argv, envp);
  if (g_inherited_slack > 0) ::prctl(PR_SET_TIMERSLACK, kTimerSlackNs, 0, 0, 0);
  if (err != 0) return sys_fail("posix_spawn", err);
  return started(pid);
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
