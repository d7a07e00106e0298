// FdWriter and Reaper: the non-blocking writer's queue, drain and error, and the reaper's report.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "hotwrap/signals.hpp"
#include "hotwrap/stream.hpp"

using namespace hotwrap;

namespace {
void pump(Loop& loop) {
  for (int i = 0; i < 20; ++i) event_base_loop(loop.base(), EVLOOP_NONBLOCK);
}
}  // namespace

TEST_CASE("FdWriter: what the pipe does not take is queued, then written as it drains") {
  auto loop = std::move(*Loop::create());
  auto pipe = make_pipe(true, true);
  REQUIRE(pipe);
  int drained = 0, errors = 0;
  FdWriter w(*loop, pipe->write.get(), [&] { ++drained; }, [&](int) { ++errors; });
  std::string big(1 << 20, 'x');
  w.write(big);
  CHECK(w.queued() > 0);  // a pipe holds 64 KiB: the writer did not block, it queued
  size_t read_total = 0;
  char buf[65536];
  for (int i = 0; i < 1000 && read_total < big.size(); ++i) {
    ssize_t n = ::read(pipe->read.get(), buf, sizeof buf);
    if (n > 0) read_total += static_cast<size_t>(n);
    pump(*loop);
  }
  CHECK(read_total == big.size());
  CHECK(w.queued() == 0);
  CHECK(drained == 1);
  CHECK(errors == 0);
  SUBCASE("the reader gone: one error, then everything is discarded") {
    // As in hotwrap, a vanished reader is an EPIPE, not the process's death.
    struct sigaction ignore{}, old{};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &old);
    pipe->read.reset();
    w.write("more");
    w.write("and more");
    CHECK(errors == 1);
    CHECK(w.failed());
    CHECK(w.queued() == 0);
    ::sigaction(SIGPIPE, &old, nullptr);
  }
}

TEST_CASE("Reaper: reports a watched child's status, and reaps an unwatched one too") {
  struct Listener final : ExitListener {
    void child_exited(int wstatus) override { status = wstatus; }
    int status = -1;
  } listener;
  Reaper reaper;
  pid_t watched = ::fork();
  if (watched == 0) ::_exit(7);
  pid_t orphan = ::fork();
  if (orphan == 0) ::_exit(0);
  reaper.watch(watched, &listener);
  for (int i = 0; i < 500 && listener.status < 0; ++i) {
    reaper.reap();
    ::usleep(2000);
  }
  REQUIRE(listener.status >= 0);
  CHECK(WIFEXITED(listener.status));
  CHECK(WEXITSTATUS(listener.status) == 7);
  CHECK(reaper.watched() == 0);
  // The unwatched child was reaped by the same sweep: nothing is left to wait for.
  for (int i = 0; i < 500 && ::waitpid(orphan, nullptr, WNOHANG) == 0; ++i) {
    reaper.reap();
    ::usleep(2000);
  }
  CHECK(::waitpid(orphan, nullptr, WNOHANG) < 0);
}
