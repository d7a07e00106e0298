// Signals through a signalfd (libevent 2.1 has no signalfd backend), and reaping every child.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <cstddef>
#include <functional>
#include <vector>

#include "hotwrap/fd.hpp"
#include "hotwrap/result.hpp"

namespace hotwrap {

// The signals hotwrap acts on; all are blocked and read from the signalfd.
inline constexpr int kHandledSignals[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP,
                                          SIGQUIT, SIGUSR1, SIGUSR2};

// Blocks kHandledSignals, ignores SIGPIPE (a vanished reader must be an EPIPE, not our death) and
// returns a non-blocking signalfd for them. Call first thing in main, before any thread or child.
Result<UniqueFd> open_signal_fd();

// Signal numbers read at once, in the order they came. Each handled signal is pending at most
// once (none is a real-time signal), so a few slots hold them all; should more be queued, they
// stay in the descriptor, readable for the next loop turn. No allocation: a call's exit is one.
struct SignalBatch {
  std::array<int, 16> sigs{};
  size_t count = 0;
  const int* begin() const { return sigs.data(); }
  const int* end() const { return sigs.data() + count; }
  bool empty() const { return count == 0; }
};

// Reads the pending signal numbers from the signalfd.
SignalBatch read_signals(int fd);

// Makes orphaned descendants hotwrap's children when it is not PID 1 (as PID 1 it already is init),
// so it can reap them.
Result<void> become_subreaper();

// At exit: SIGKILLs every remaining child of hotwrap — orphans it adopted as init or subreaper,
// daemons that escaped their call's process group — and reaps them, their own children too as
// they are re-parented here. Bounded to about a second.
void kill_remaining_children();

// Told when its child has been reaped.
class ExitListener {
 public:
  virtual void child_exited(int wstatus) = 0;

 protected:
  ~ExitListener() = default;
};

// Reaps every child, known or orphaned, and tells the listener of a known pid.
class Reaper {
 public:
  void watch(pid_t pid, ExitListener* listener);
  void forget(pid_t pid);

  // Told of every pid reaped, known or not, after its listener (the runner's spawner lets go of
  // what the child's start needed). Empty: no one.
  void on_reaped(std::function<void(pid_t)> f) { on_reaped_ = std::move(f); }

  // waitpid(-1, WNOHANG) until nothing is left to reap. Call on SIGCHLD.
  void reap();

  size_t watched() const { return listeners_.size(); }

 private:
  // A list, not a hash map: a few children at a time, and no allocation for each.
  struct Entry {
    pid_t pid;
    ExitListener* listener;
  };
  std::vector<Entry> listeners_;
  // The entry of `pid`, or end.
  std::vector<Entry>::iterator find(pid_t pid);
  void remove(std::vector<Entry>::iterator it);
  std::function<void(pid_t)> on_reaped_;
};

}  // namespace hotwrap
