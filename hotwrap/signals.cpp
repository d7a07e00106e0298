#include "hotwrap/signals.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

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

std::vector<int> read_signals(int fd) {
  std::vector<int> out;
  signalfd_siginfo info[8];
  while (true) {
    ssize_t n = ::read(fd, info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(signalfd_siginfo); ++i) {
      out.push_back(static_cast<int>(info[i].ssi_signo));
    }
  }
  return out;
}

Result<void> become_subreaper() {
  if (::getpid() == 1) return {};
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return sys_fail("prctl(PR_SET_CHILD_SUBREAPER)");
  return {};
}

void Reaper::reap() {
  // SIGCHLD coalesces: one signal may stand for many exits, so reap until none is left.
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    auto it = listeners_.find(pid);
    if (it == listeners_.end()) continue;  // an orphan, or a call already given up on
    ExitListener* l = it->second;
    listeners_.erase(it);
    l->child_exited(status);
  }
}

}  // namespace hotwrap
