// Spawning the wrapped command: posix_spawn, no shell, its own process group, clean signals.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hotwrap/fd.hpp"
#include "hotwrap/result.hpp"

namespace hotwrap {

// Where one of the child's standard streams goes.
enum class Stdio { Pipe, Inherit };

struct StdioPlan {
  Stdio in = Stdio::Pipe;
  Stdio out = Stdio::Pipe;
  // The container log, directly: no copy through hotwrap, and a slow log reader blocks only the
  // command that writes to it. The runner pipes it when each line is to get the call id.
  Stdio err = Stdio::Inherit;
  bool operator==(const StdioPlan&) const = default;
};

// A spawned command: passive data. It never blocks and never touches the event loop; the runner
// watches its fds and the reaper reports its exit. Its pid is also its process group id.
struct Child {
  pid_t pid = -1;
  UniqueFd in;   // hotwrap's (non-blocking) write end of the child's stdin, if piped
  UniqueFd out;  // hotwrap's (non-blocking) read end of the child's stdout, if piped
  UniqueFd err;  // hotwrap's (non-blocking) read end of the child's stderr, if piped
};

// Prepares, once at start-up and before hotwrap sets any disposition of its own, the signals every
// child gets reset to default: all of them for posix_spawn (which otherwise leaves glibc's
// internal real-time signals ignored); for a clone()d child those hotwrap inherited not at their
// default, and SIGPIPE. An ignored disposition survives exec.
void capture_inherited_signal_state();

// How late the kernel may run hotwrap's timers (a call's time limit, the kill grace, the couple
// of milliseconds before a quick command's output is watched): with the default 50 µs, each
// call's timer is the CPU's next event, and the kernel reprograms the CPU's timer for it as it
// is set and again as it is cleared. In a virtual machine each of those is an exit to the
// hypervisor: 14 µs of every call's CPU on one vCPU. With 5 ms the timers ride on the kernel's
// tick. hotwrap's own times are 200 ms and more.
inline constexpr long kTimerSlackNs = 5'000'000;
// Widens the slack of hotwrap's thread to kTimerSlackNs, once at start-up, and keeps the slack it
// inherited for every child spawned after: a command gets the one hotwrap was started with.
// False, and nothing changed, when the kernel refuses or the slack is already that wide (or 0:
// a real-time thread, whose timers have none).
bool widen_timer_slack();

// Spawns the program at `path` (already looked up: see find_executable) with argv (null-terminated)
// and envp, in a new process group, with an empty signal mask and default dispositions. posix_spawn
// returns its error (ENOENT, EACCES, EAGAIN...) rather than setting errno; it is carried in the
// SysError.
Result<Child> spawn_command(const char* path, char* const* argv, char* const* envp, StdioPlan plan);

// spawn_command for a process that spawns again and again (the runner): it keeps the posix_spawn
// set-up of its last spawns. glibc checks each descriptor a dup2 file action names against
// RLIMIT_NOFILE as the action is added (two getrlimit system calls each, six a call), and a call's
// pipes get the same descriptor numbers as the last call's once hotwrap is in its steady state,
// so the file actions built for those numbers serve again as they are.
//
// A Spawner that is told of its children's ends (reaped()) does not wait for the exec either:
// posix_spawn's vfork holds the calling thread until the child has exec'd, and when the CPUs are
// busy the child waits for one — hotwrap's one thread, and every call it serves, with it. Such a
// spawner starts the child in hotwrap's memory without CLONE_VFORK, on a stack of its own, and
// the child reports a failed exec in that memory, read once it has exited (exec_error()). Where
// that clone is refused (qemu-user emulates only threads and forks), it uses posix_spawn.
class Spawner {
 public:
  enum class Mode {
    WaitForExec,  // posix_spawn: the spawn's result is the exec's
    NoWait,       // the exec's failure comes with the exit; reaped() must be called for every pid
  };
  explicit Spawner(Mode mode = Mode::WaitForExec);
  ~Spawner();
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  // `stable_env`: how many of envp's first strings stay where they are for as long as any child
  // lives (the container's own environment): a NoWait child reads those in place, and is given a
  // copy of the rest.
  Result<Child> spawn(const char* path, char* const* argv, char* const* envp, StdioPlan plan,
                      size_t stable_env = 0);

  // NoWait: the errno of the exec of `pid` if it failed (the child then exited 127), else 0. Ask
  // once the pid has been reaped, before reaped().
  int exec_error(pid_t pid) const;
  // A child has been reaped: what its start needed (stack, arguments) can go.
  void reaped(pid_t pid);

 private:
  class Actions;  // file actions for one set of descriptor numbers
  struct Launch;  // a NoWait child's stack, arguments and exec result
  // The file actions for these child ends (-1: not piped), built if none are kept for them.
  Result<Actions*> actions_for(int in, int out, int err, bool tcsetpgrp);
  // NoWait; nullopt when the clone is refused (EINVAL, EPERM, ENOSYS), which switches to
  // posix_spawn for good.
  std::optional<Result<pid_t>> launch(const char* path, char* const* argv, char* const* envp,
                                      size_t stable_env, int in, int out, int err, bool tcsetpgrp);
  Mode mode_;
  std::vector<std::unique_ptr<Actions>> kept_;
  size_t next_slot_ = 0;  // the kept entry replaced next when all slots are taken
  // Children not reaped yet: a list, not a hash map, as the reaper's (a few at a time).
  std::vector<std::pair<pid_t, std::unique_ptr<Launch>>> launches_;
  std::vector<std::unique_ptr<Launch>> spare_;  // for the next children
};

// Finds `name` as posix_spawnp would (PATH, or as given when it contains '/').
// Errors: ENOENT when nowhere, EACCES when found but not executable.
Result<std::string> find_executable(const std::string& name, const char* path_env);

// Exit code of a waited-for child, as a shell reports it: the code, or 128 + the signal.
int exit_code_from_status(int wstatus);

// Exit code for a command that could not be executed: 127 when not found, 126 otherwise.
int exit_code_for_spawn_error(int err);

}  // namespace hotwrap
