// The log sink: never blocks, bounded, drops with a count when the reader stalls, and leaves
// hotwrap's stderr description as it found it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "hotwrap/fd.hpp"
#include "hotwrap/log.hpp"
#include "hotwrap/loop.hpp"

using namespace hotwrap;

namespace {

// fd 2 is a pipe the test reads, for the duration of a test case.
struct CapturedStderr {
  CapturedStderr() {
    auto p = make_pipe(false, false);
    REQUIRE(p);
    pipe = std::move(*p);
    saved.reset(::dup(STDERR_FILENO));
    REQUIRE(::dup2(pipe.write.get(), STDERR_FILENO) == STDERR_FILENO);
    REQUIRE(::fcntl(pipe.read.get(), F_SETFL, O_NONBLOCK) == 0);
  }
  ~CapturedStderr() { ::dup2(saved.get(), STDERR_FILENO); }
  std::string read_all() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(pipe.read.get(), buf, sizeof buf)) > 0)
      out.append(buf, static_cast<size_t>(n));
    return out;
  }
  Pipe pipe;
  UniqueFd saved;
};

void pump(Loop& loop) {
  for (int i = 0; i < 20; ++i) event_base_loop(loop.base(), EVLOOP_NONBLOCK);
}

}  // namespace

TEST_CASE("log sink: a stalled reader never blocks; what does not fit is dropped and counted") {
  CapturedStderr err;
  auto loop = std::move(*Loop::create());
  log_attach(*loop);
  // fd 2 itself stays blocking: the sink writes through a description of its own.
  CHECK((::fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK) == 0);
  std::string text(200, 'x');
  for (int i = 0; i < 20000; ++i) log(Level::Warn, "id", "%d %s", i, text.c_str());  // ~4.6 MB
  CHECK(log_queued() > 0);
  CHECK(log_queued() <= (1u << 20));  // bounded
  CHECK(log_congested());
  std::string got;
  for (int i = 0; i < 2000 && got.find("were dropped") == std::string::npos; ++i) {
    got += err.read_all();
    pump(*loop);
  }
  got += err.read_all();
  CHECK(got.find("hotwrap: warn: call id: 0 ") != std::string::npos);  // the first lines got out
  CHECK(got.find("hotwrap: warn: the log reader stalled: ") != std::string::npos);
  CHECK(got.find(" lines (") != std::string::npos);
  CHECK(log_queued() == 0);
  CHECK_FALSE(log_congested());
  // Later lines go out at once again.
  log(Level::Warn, {}, "after");
  CHECK(err.read_all() == "hotwrap: warn: after\n");
  log_detach();
}

TEST_CASE("log sink: waiters are told when the queue drains") {
  CapturedStderr err;
  auto loop = std::move(*Loop::create());
  log_attach(*loop);
  struct Waiter final : LogWaiter {
    void log_drained() override { ++told; }
    int told = 0;
  } waiter;
  std::string text(60000, 'y');
  log_relay(text);
  log_relay(text);  // the pipe (64 KiB) is full now
  REQUIRE(log_queued() > 0);
  log_wait(&waiter);
  pump(*loop);
  CHECK(waiter.told == 0);
  for (int i = 0; i < 100 && waiter.told == 0; ++i) {
    err.read_all();
    pump(*loop);
  }
  CHECK(waiter.told == 1);
  log_detach();
}
