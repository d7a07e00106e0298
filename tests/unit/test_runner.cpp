// The Runner and its Calls on a real loop with real processes: output, exit, the environment a
// protocol names, deadlines, and a caller going away.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "hotwrap/runner.hpp"

extern char** environ;

using namespace hotwrap;

namespace {

struct Recorder final : CallHandler {
  void call_output(std::string_view bytes) override { out.append(bytes); }
  void call_input_ready() override {}
  void call_finished(const Outcome& o) override {
    outcome = o;
    finished = true;
    call.reset();
  }
  std::string out;
  Outcome outcome;
  bool finished = false;
  std::unique_ptr<Call> call;
};

struct Fixture {
  explicit Fixture(std::vector<std::string> command) {
    config.command = std::move(command);
    loop = std::move(*Loop::create());
    signal_fd = std::move(*open_signal_fd());
    runner = std::make_unique<Runner>(*loop, reaper, config, environ);
  }
  ~Fixture() { runner.reset(); }
  // Runs the loop, reaping children, until `done` or about 5 s.
  template <typename Pred>
  bool run_until(Pred done) {
    for (int i = 0; i < 5000 && !done(); ++i) {
      event_base_loop(loop->base(), EVLOOP_NONBLOCK | EVLOOP_ONCE);
      if (!read_signals(signal_fd.get()).empty()) reaper.reap();
      ::usleep(1000);
    }
    return done();
  }
  Config config;
  std::unique_ptr<Loop> loop;
  UniqueFd signal_fd;
  Reaper reaper;
  std::unique_ptr<Runner> runner;
};

}  // namespace

TEST_CASE("call: the body in, the output out, the exit status") {
  Fixture f({"sh", "-c", "cat; echo \"[$GREETING]\"; exit 3"});
  Recorder r;
  CallRequest req;
  req.id = "c1";
  req.env.add("GREETING", "hi");
  req.env.add("PATH", "/nowhere");  // never taken from a call
  r.call = f.runner->start_call(r, std::move(req));
  r.call->feed("body ");
  r.call->end_input();
  REQUIRE(f.run_until([&] { return r.finished; }));
  CHECK(r.out == "body [hi]\n");
  CHECK(r.outcome.kind == Outcome::Kind::Exited);
  CHECK(r.outcome.code == 3);
  CHECK(r.outcome.stats.bytes_in == 5);
  CHECK(r.outcome.stats.bytes_out == 10);
  CHECK(f.runner->running() == 0);
}

TEST_CASE("call: a deadline already passed never runs the command") {
  Fixture f({"sh", "-c", "echo ran"});
  Recorder r;
  CallRequest req;
  req.deadline = std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now() - std::chrono::seconds(1));
  r.call = f.runner->start_call(r, std::move(req));
  REQUIRE(f.run_until([&] { return r.finished; }));
  CHECK(r.outcome.kind == Outcome::Kind::Expired);
  CHECK(r.out.empty());
}

TEST_CASE("call: the deadline answers first, then the process group is ended") {
  Fixture f({"sh", "-c", "echo started; exec sleep 30"});
  f.config.kill_grace = Millis(100);
  Recorder r;
  CallRequest req;
  req.deadline_margin = Millis(0);
  req.deadline = std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  r.call = f.runner->start_call(r, std::move(req));
  r.call->end_input();
  REQUIRE(f.run_until([&] { return r.finished; }));
  CHECK(r.outcome.kind == Outcome::Kind::TimedOut);
  CHECK(r.out == "started\n");
}

TEST_CASE("call: destroying a running call kills its process group") {
  Fixture f({"sh", "-c", "sleep 30 & echo $!; wait"});
  Recorder r;
  r.call = f.runner->start_call(r, CallRequest{});
  r.call->end_input();
  REQUIRE(f.run_until([&] { return r.out.find('\n') != std::string::npos; }));
  pid_t grandchild = static_cast<pid_t>(std::stol(r.out));
  r.call.reset();  // the caller went away
  CHECK(f.run_until([&] { return ::kill(grandchild, 0) != 0; }));
  CHECK(f.runner->running() == 0);
}

TEST_CASE("runner: calls are counted by how they ended, in the registry it is given") {
  Fixture f({"sh", "-c", "cat >/dev/null; exec sleep 30"});
  Registry metrics;
  f.runner.reset();
  f.runner = std::make_unique<Runner>(*f.loop, f.reaper, f.config, environ,
                                      RunnerOptions{{"HOTWRAP_CALL_ENV_FILE"}, &metrics});
  f.config.kill_grace = Millis(50);
  Recorder gone;
  gone.call = f.runner->start_call(gone, CallRequest{});
  gone.call.reset();  // the caller went away
  Recorder r;
  r.call = f.runner->start_call(r, CallRequest{});
  r.call->end_input();
  f.runner->shut_down(Millis(100));  // SIGTERM after 50 ms, which `sleep` obeys
  REQUIRE(f.run_until([&] { return r.finished; }));
  CHECK(r.outcome.kind == Outcome::Kind::ShutDown);
  std::string m = metrics.expose();
  INFO(m);
  CHECK(m.find("hotwrap_calls_total{outcome=\"caller_gone\"} 1\n") != std::string::npos);
  CHECK(m.find("hotwrap_calls_total{outcome=\"shut_down\"} 1\n") != std::string::npos);
  CHECK(m.find("hotwrap_calls_total{outcome=\"ok\"} 0\n") != std::string::npos);
  CHECK(m.find("hotwrap_spawn_failures_total 0\n") != std::string::npos);
}
