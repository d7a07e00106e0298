#include "hotwrap/signals.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace hotwrap {

Result<UniqueFd> open_signal_fd() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kHandledSignals) sigaddset(&set, sig);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) < 0) return sys_fail("sigprocmask");
  struct sigaction ign{};
  ign.sa_handler = SIG_IGN;
  if (::sigaction(SIGPIPE, &ign, nullptr) < 0) return sys_fail("sigaction(SIGPIPE)");
  int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return sys_fail("signalfd");
  return UniqueFd(fd);
}

SignalBatch read_signals(int fd) {
  SignalBatch out;
  signalfd_siginfo info[8];
  while (out.count + std::size(info) <= out.sigs.size()) {
    ssize_t n = ::read(fd, info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(signalfd_siginfo); ++i) {
      out.sigs[out.count++] = static_cast<int>(info[i].ssi_signo);
    }
    // A short read emptied the queue: asking again would only return EAGAIN. (A signal queued
    // since then keeps the descriptor readable for the next loop turn.)
    if (static_cast<size_t>(n) < sizeof info) break;
  }
  return out;
}

Result<void> become_subreaper() {
  if (::getpid() == 1) return {};
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return sys_fail("prctl(PR_SET_CHILD_SUBREAPER)");
  return {};
}

namespace {
// The children of `self` now, from /proc/<pid>/stat (its fourth field is the parent pid; the
// second, the command name in parentheses, may contain spaces and parentheses itself).
std::vector<pid_t> children_of(pid_t self) {
  std::vector<pid_t> out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (!fd) continue;
    char buf[512];
    ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
    if (n <= 0) continue;
    buf[n] = '\0';
    // After ") ": the state, one character, then a space and the parent pid. (No sscanf: it
    // would link glibc's whole scanf engine into the static binary for this one line.)
    const char* paren = std::strrchr(buf, ')');
    if (paren == nullptr || paren[1] != ' ' || paren[2] == '\0' || paren[3] != ' ') continue;
    if (std::strtol(paren + 4, nullptr, 10) == self) {
      out.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(proc);
  return out;
}
}  // namespace

void kill_remaining_children() {
  const pid_t self = ::getpid();
  for (int round = 0; round < 100; ++round) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    std::vector<pid_t> kids = children_of(self);
    if (kids.empty()) return;
    for (pid_t k : kids) {
      ::kill(-k, SIGKILL);  // its group, if it leads one
      ::kill(k, SIGKILL);
    }
    ::usleep(10'000);
  }
}

std::vector<Reaper::Entry>::iterator Reaper::find(pid_t pid) {
  return std::ranges::find(listeners_, pid, &Entry::pid);
}

void Reaper::watch(pid_t pid, ExitListener* listener) {
  if (auto it = find(pid); it != listeners_.end()) {
    it->listener = listener;
  } else {
    listeners_.push_back({pid, listener});
  }
}

void Reaper::forget(pid_t pid) {
  if (auto it = find(pid); it != listeners_.end()) remove(it);
}

void Reaper::remove(std::vector<Entry>::iterator it) {
  // The order of the list does not matter: the last entry takes the place.
  *it = listeners_.back();
  listeners_.pop_back();
}

void Reaper::reap() {
  // SIGCHLD coalesces: one signal may stand for many exits, so reap until none is left.
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    // An orphan, or a call already given up on, has no listener.
    if (auto it = find(pid); it != listeners_.end()) {
      ExitListener* l = it->listener;
      remove(it);
      l->child_exited(status);
    }
    if (on_reaped_) on_reaped_(pid);
  }
}

}  // namespace hotwrap
