// Runs the wrapped command for one call: spawn, body → stdin, stdout → the contract, stderr → the
// log, the deadline, and the end of the process group. Knows nothing of any wire protocol.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hotwrap/config.hpp"
#include "hotwrap/deadline.hpp"
#include "hotwrap/env.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/metrics.hpp"
#include "hotwrap/signals.hpp"
#include "hotwrap/spawn.hpp"
#include "hotwrap/stderr_relay.hpp"
#include "hotwrap/stream.hpp"

namespace hotwrap {

// What a call moved and how long it ran, for its summary line.
struct CallStats {
  std::chrono::microseconds duration{0};
  uint64_t bytes_in = 0;    // request body fed to the command
  uint64_t bytes_out = 0;   // what the command wrote to stdout
  bool prespawned = false;  // served by a process started ahead of the call
};

// How a call ended.
struct Outcome {
  enum class Kind {
    Exited,
    Signaled,
    NotStarted,
    TimedOut,  // its deadline came: answered, then its process group ended
    Expired,   // its deadline had passed when it arrived: never run
    ShutDown,  // hotwrap's shutdown grace ran out (or its command obeyed the SIGTERM of it)
    // It exited 0, but its output cannot be answered with (a broken CGI header block): `problem`
    // says why. Set by the reply path, which reads the output; never by the runner.
    BadOutput,
  };
  Kind kind = Kind::Exited;
  int code = 0;  // exit code, signal number, or the spawn errno
  CallStats stats{};
  std::string stderr_tail{};  // a failed call's last lines of stderr (bounded), the reason
  std::string limit{};        // TimedOut: which limit ended it ("HOTWRAP_TIMEOUT_MS=1000 reached")
  std::string problem{};      // BadOutput: a phrase after "the command ", e.g. "wrote ..."

  bool ok() const { return kind == Kind::Exited && code == 0; }
  bool timed_out() const { return kind == Kind::TimedOut || kind == Kind::Expired; }
  // As a shell reports it: the code, 128 + signal, 127/126 when it could not run, 124 on
  // timeout, 143 (SIGTERM) at shutdown.
  int exit_code() const;
  // One phrase for logs and error bodies, e.g. "exited with status 3".
  std::string describe() const;
};

// What a contract does with a call. Called from the loop only. call_finished is the last call and
// the handler may destroy the Call inside it; inside call_output and call_input_ready it must not.
class CallHandler {
 public:
  virtual void call_output(std::string_view bytes) = 0;
  // The stdin queue emptied after input_congested() was true: the contract may read body again.
  virtual void call_input_ready() = 0;
  virtual void call_finished(const Outcome& outcome) = 0;

 protected:
  ~CallHandler() = default;
};

// What a call's request looked like on the wire, for the capture (HOTWRAP_CAPTURE_DIR): the
// contract always; method, URL and headers only while capturing (no work per call otherwise).
struct CallMeta {
  const char* contract = "";  // "fn-http-stream", "fn-json", "fn-http", "fn-default", "http", ...
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct CallRequest {
  std::string id;                                // for log lines
  CallEnv env;                                   // the call's variables, as its protocol names them
  std::optional<WallTime> deadline;              // none: HOTWRAP_TIMEOUT_MS alone limits the call
  std::string deadline_source = "the deadline";  // where it came from, for log lines
  // False: the call has no answer to send before its deadline (the cold default format), so the
  // command is given SIGTERM HOTWRAP_KILL_GRACE_MS before it and SIGKILL at it. True (hot): at
  // `deadline - margin` the call ends (the 504 leaves) and its process group gets SIGTERM, then
  // SIGKILL a grace later: the grace never comes out of the command's time.
  bool answers = true;
  StdioPlan stdio;  // inherited streams bypass the call's stdin/stdout/stderr
  // How long before `deadline` the call is killed; none: the configured margin. A contract that
  // has no answer to send before the deadline (the cold default format) gives the command all
  // of its time.
  std::optional<Millis> deadline_margin = std::nullopt;
  // The trace id the platform gave the call (W3C traceparent's, Cloud Run's), for its log lines;
  // empty: none.
  std::string trace{};
  CallMeta meta{};
};

class Runner;
struct Verdict;

// What a protocol drives of a running call. Destroying it before call_finished kills the call's
// process group (the caller went away). Call implements it; tests and fuzzers fake it.
class CallControl {
 public:
  virtual ~CallControl() = default;
  // Request body bytes for the command's stdin, several pieces at once (a read's worth of body
  // chunks: one write for all of them). Once the command has closed its stdin or ended, bytes
  // are discarded: the protocol keeps reading the body so the transport stays in sync.
  virtual void feed(std::span<const std::string_view> pieces) = 0;
  void feed(std::string_view bytes) { feed(std::span<const std::string_view>(&bytes, 1)); }
  // The body is complete: stdin is closed once what is queued has been written.
  virtual void end_input() = 0;
  // True while more than a pipe's worth waits for the command: stop reading body until
  // call_input_ready().
  virtual bool input_congested() const = 0;
  // Backpressure from the transport: stop/start reading the command's stdout.
  virtual void pause_output() = 0;
  virtual void resume_output() = 0;
  virtual const std::string& id() const = 0;
  // The capture (hotwrap/capture.hpp) is told the verdict the reply path decides for this call;
  // empty when nothing listens. Asked only while capturing.
  virtual std::function<void(const Verdict&)> verdict_observer() { return {}; }
};

// Starts calls: the Runner, or a fake in tests. Failures to start arrive as a NotStarted outcome
// through call_finished, on a later loop iteration, like every other ending.
class CallStarter {
 public:
  virtual std::unique_ptr<CallControl> start(CallHandler& handler, CallRequest request) = 0;

 protected:
  ~CallStarter() = default;
};

// One running call of the command.
class Call final : public CallControl, private ExitListener {
 public:
  ~Call() override;
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  void feed(std::span<const std::string_view> pieces) override;
  using CallControl::feed;
  void end_input() override;
  bool input_congested() const override;
  void pause_output() override;
  void resume_output() override;
  const std::string& id() const override { return request_.id; }

  // Passes a signal on to the command (not its group), as an init does.
  void forward_signal(int sig);
  // hotwrap is shutting down: the call may run on for `grace`; its process group gets SIGTERM
  // HOTWRAP_KILL_GRACE_MS before the grace runs out and SIGKILL at its end (ShutDown outcome).
  void shut_down(Millis grace);

 private:
  friend class Runner;
  Call(Runner& runner, CallHandler& handler, CallRequest request);

  void child_exited(int wstatus) override;
  void on_stdin_drained();
  void close_stdin();
  void on_term_deadline();
  void on_kill_deadline();
  void on_answer_deadline();
  void on_shutdown_timer();
  void end_before_start(Outcome outcome);
  void kill_group(int sig);
  void watch_output();  // from now on, stdout is read as it comes
  void grow_pipes();
  void finish(Outcome outcome);  // last thing a Call does

  // Where the call is. Running → Terminating when the deadline is near (cold: SIGTERM sent);
  // Running → ShuttingDown when hotwrap's shutdown sent SIGTERM; Deferred when its ending was
  // decided before the command ran (delivered on the next iteration).
  enum class Phase { Running, Terminating, ShuttingDown, Deferred, Finished };
  // The command's stdin: open; to be closed once the queue is written; closed.
  enum class Input { Open, Ending, Closed };

  Runner& runner_;
  CallHandler& handler_;
  CallRequest request_;
  LogTrace log_trace_;  // the call's lines carry its trace while it lives
  Child child_;
  std::optional<FdWriter> stdin_;
  std::optional<FdReader> stdout_;
  std::unique_ptr<StderrRelay> stderr_;
  Timer term_timer_;
  Timer kill_timer_;
  Timer shutdown_timer_;  // SIGTERM, then (re-armed) SIGKILL and the end, during shutdown
  Timer deferred_;        // delivers an ending decided before the command ran
  Timer watch_output_;    // starts reading stdout once the command has run a while
  Outcome deferred_outcome_;
  std::chrono::steady_clock::time_point started_;
  std::string env_file_;  // prespawn: the call's environment as a file, removed at the end
  // What set the call's end, for log lines: built only when one is written (most calls end well
  // before it, and a string built for every call is work for nothing).
  enum class Limit { None, Deadline, Timeout };
  std::string deadline_text() const;
  Limit limit_ = Limit::None;
  Millis margin_{0};       // Deadline: the margin it was taken with
  bool draining_ = false;  // shut_down() armed its timer
  Phase phase_ = Phase::Running;
  Input input_ = Input::Open;
  bool pipes_grown_ = false;  // grown once, when the call turns out to stream
  bool prespawned_ = false;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  bool output_paused_ = false;  // the protocol's backpressure, independent of the phase
  Call* prev_ = nullptr;        // Runner's list of running calls (signals are forwarded to them)
  Call* next_ = nullptr;
};

// What the runner needs from the composition root beyond the configuration.
struct RunnerOptions {
  // Prespawn: the names under which a process started ahead of its call finds the path of its
  // call's environment file (the protocol's own name and HOTWRAP_CALL_ENV_FILE).
  std::vector<std::string> env_file_names = {"HOTWRAP_CALL_ENV_FILE"};
  // Where the runner's counters go (hotwrap_calls_total, ...); none: a registry of its own.
  Registry* metrics = nullptr;
};

// Starts calls of one command. Shared by every contract.
class Runner final : public CallStarter, private ExitListener {
 public:
  Runner(Loop& loop, Reaper& reaper, const Config& config, const char* const* base_env,
         RunnerOptions options = {});
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Spawns the command with the request's environment (or hands the call to the prespawned
  // process) and starts the call.
  std::unique_ptr<CallControl> start(CallHandler& handler, CallRequest request) override;
  // The same, for a protocol that needs the Call itself (to forward signals to it).
  std::unique_ptr<Call> start_call(CallHandler& handler, CallRequest request);

  // Passes `sig` on to every running call's command (HUP, QUIT, USR1, USR2 from the platform).
  void forward_signal(int sig);
  // hotwrap is shutting down: every running call gets `grace` (Call::shut_down); calls ended
  // from now on without their end (the second signal) are logged as ended by shutdown.
  void shut_down(Millis grace);

  // Prespawn (config.prespawn): keep one process of the command started ahead of its call, its
  // stdin open and nothing written. A hot contract calls enable_prespawn() once it serves;
  // stop_prespawn() ends the waiting process for good (shutdown).
  void enable_prespawn();
  void stop_prespawn();

  Loop& loop() { return loop_; }
  Reaper& reaper() { return reaper_; }
  const Config& config() const { return config_; }
  size_t running() const { return running_; }

 private:
  friend class Call;
  // The process for a call: the prespawned one when there is a healthy one, else a new one.
  // `env_file` is set when the call's environment went to a file (prespawn).
  Result<Child> obtain_child(const StdioPlan& plan, CallEnv& env, std::string& env_file,
                             bool& prespawned);
  // `plan` with the command's stderr routed as the configuration wants it.
  StdioPlan with_log_plan(StdioPlan plan) const;
  void call_ended();
  void register_metrics();
  void refill();
  // A new path for a call's environment file: $TMPDIR (or /tmp)/hotwrap-<pid>-<n>.env.
  std::string next_env_file();
  void discard_warm(const char* why);
  void child_exited(int wstatus) override;  // the prespawned process died before its call
  // A call answered at its deadline: its process group got SIGTERM and gets SIGKILL after the
  // kill grace, or as soon as its leader exits (what it left in the group goes with it).
  void bury(pid_t pid, const CallRequest& request, std::unique_ptr<StderrRelay> stderr);

  class Burial;
  // How a call ended, for hotwrap_calls_total.
  enum class Ending { Ok, Failed, Timeout, NotStarted, CallerGone, ShutDown };
  void count(Ending e) { ended_[static_cast<size_t>(e)]->inc(); }

  Loop& loop_;
  Reaper& reaper_;
  const Config& config_;
  const RunnerOptions options_;
  BaseEnv env_;
  // The container's environment never changes: whether a call may get HOTWRAP_DEADLINE is known
  // once.
  bool deadline_admitted_ = env_.admits("HOTWRAP_DEADLINE");
  std::vector<char*> argv_;
  std::string exe_;  // argv[0] looked up in PATH
  Spawner spawner_{Spawner::Mode::NoWait};
  size_t running_ = 0;
  Call* calls_ = nullptr;  // the running calls, newest first
  std::vector<std::unique_ptr<Burial>> burials_;
  bool shutting_down_ = false;
  bool prespawn_ = false;
  std::optional<Child> warm_;
  std::string warm_env_file_;
  uint64_t env_file_seq_ = 0;
  Timer refill_timer_;
  std::unique_ptr<Registry> own_metrics_;  // when the options gave none
  Counter* ended_[6] = {};                 // by Ending
  Counter* prespawn_hits_ = nullptr;
  Counter* prespawn_misses_ = nullptr;
  Counter* spawn_failures_ = nullptr;
};

}  // namespace hotwrap
