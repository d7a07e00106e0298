#include "hotwrap/runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>

#include "hotwrap/call_id.hpp"
#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::steady_clock;

// After the command exits, at most this much of what it left in its pipes is still taken: the
// pipes may be held open by something that escaped its process group and keeps writing.
constexpr size_t kDrainLimit = 4 << 20;
// Linux's default pipe capacity: a read this large means the pipe was full.
constexpr size_t kDefaultPipeSize = 64 << 10;
// How long a command runs before its stdout is watched (see Call::Call).
constexpr std::chrono::microseconds kOutputWatchDelay(2000);
// The call's environment for a prespawned process, one `NAME='value'` a line (sh-quoted, so a
// script can `. "$FN_CALL_ENV_FILE"`). Written before any body byte is sent, so it is complete
// by the time the process sees its input.
bool write_env_file(const std::string& path, const CallEnv& env) {
  std::string text;
  for (const auto& [name, value] : env.vars()) {
    text += name;
    text += "='";
    for (char c : value) {
      if (c == '\'') {
        text += "'\\''";
      } else {
        text += c;
      }
    }
    text += "'\n";
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return false;
  std::string_view rest = text;
  while (!rest.empty()) {
    ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

// The end of a process group whose call has already been answered.
class Runner::Burial final : public ExitListener {
 public:
  Burial(Runner& runner, pid_t pid, const CallRequest& request, std::unique_ptr<StderrRelay> stderr)
      : runner_(runner),
        pid_(pid),
        id_(request.id),
        log_trace_(request.id, request.trace),
        stderr_(std::move(stderr)),
        kill_(runner.loop(), [this] {
          log(Level::Warn, id_,
              "the command outlived HOTWRAP_KILL_GRACE_MS=%lld after SIGTERM; "
              "SIGKILL to its process group",
              static_cast<long long>(runner_.config_.kill_grace.count()));
          end();
        }) {
    runner_.reaper_.watch(pid_, this);
    kill_.start(duration_cast<microseconds>(runner_.config_.kill_grace));
    // What its trap writes to stderr in the grace still reaches the log.
    if (stderr_) stderr_->start();
  }
  ~Burial() {
    runner_.reaper_.forget(pid_);
    ::kill(-pid_, SIGKILL);
  }
  pid_t pid() const { return pid_; }

 private:
  void child_exited(int) override {
    if (stderr_) stderr_->drain(kDrainLimit);
    end();
  }
  void end() {
    // Destroys this burial: the group gets its SIGKILL in the destructor.
    std::erase_if(runner_.burials_, [this](const auto& b) { return b.get() == this; });
  }
  Runner& runner_;
  pid_t pid_;
  std::string id_;
  LogTrace log_trace_;
  std::unique_ptr<StderrRelay> stderr_;
  Timer kill_;
};

int Outcome::exit_code() const {
  switch (kind) {
    case Kind::Exited: return code;
    case Kind::Signaled: return 128 + code;
    case Kind::NotStarted: return exit_code_for_spawn_error(code);
    case Kind::TimedOut:
    case Kind::Expired: return 124;
    case Kind::ShutDown: return 128 + SIGTERM;
    case Kind::BadOutput: return 1;  // it exited 0; its answer is what failed
  }
  return 1;
}

std::string Outcome::describe() const {
  switch (kind) {
    case Kind::Exited: return "exited with status " + std::to_string(code);
    case Kind::Signaled:
      return "killed by signal " + std::to_string(code) + " (" + ::strsignal(code) + ")";
    case Kind::NotStarted: return std::string("could not be started: ") + std::strerror(code);
    case Kind::TimedOut:
      return limit.empty() ? "did not finish before the deadline"
                           : "did not finish in time: " + limit;
    case Kind::Expired: return "was not run: the deadline had passed when the call arrived";
    case Kind::ShutDown: return "was stopped: hotwrap is shutting down";
    case Kind::BadOutput: return problem;
  }
  return "?";
}

Runner::Runner(Loop& loop, Reaper& reaper, const Config& config, const char* const* base_env,
               RunnerOptions options)
    : loop_(loop),
      reaper_(reaper),
      config_(config),
      options_(std::move(options)),
      env_(base_env),
      refill_timer_(loop, [this] { refill(); }) {
  for (const std::string& a : config_.command) argv_.push_back(const_cast<char*>(a.c_str()));
  argv_.push_back(nullptr);
  // PATH is looked up once: the container's PATH does not change between calls. Should the file
  // go away later, each call reports ENOENT like any failure to start.
  auto exe = find_executable(config_.command.front(), std::getenv("PATH"));
  exe_ = exe ? *exe : config_.command.front();
  register_metrics();
  reaper_.on_reaped([this](pid_t pid) { spawner_.reaped(pid); });
}

void Runner::register_metrics() {
  Registry* m = options_.metrics;
  if (m == nullptr) {
    own_metrics_ = std::make_unique<Registry>();
    m = own_metrics_.get();
  }
  // Every series exists from the start, at zero: a rate over a counter that appears only with its
  // first increment misses that increment.
  static constexpr const char* kEndings[] = {"ok",          "failed",      "timeout",
                                             "not_started", "caller_gone", "shut_down"};
  for (size_t i = 0; i < std::size(kEndings); ++i) {
    Label outcome{"outcome", kEndings[i]};
    ended_[i] = &m->counter(
        "hotwrap_calls_total",
        "Calls of the command by how they ended: ok (exit 0), failed (another exit status, a "
        "signal), timeout (its deadline or HOTWRAP_TIMEOUT_MS), not_started (the command could "
        "not be started), caller_gone (the caller went away first), shut_down (hotwrap's "
        "shutdown ended it).",
        {&outcome, 1});
  }
  prespawn_hits_ =
      &m->counter("hotwrap_prespawn_hits_total",
                  "Calls served by a process started ahead of them (HOTWRAP_PRESPAWN=1).");
  prespawn_misses_ = &m->counter(
      "hotwrap_prespawn_misses_total",
      "Calls that found no prespawned process ready and started their own (HOTWRAP_PRESPAWN=1).");
  spawn_failures_ = &m->counter(
      "hotwrap_spawn_failures_total",
      "Times the command could not be started (its process or its exec failed), prespawns "
      "included.");
}

Runner::~Runner() {
  stop_prespawn();
  burials_.clear();
  reaper_.on_reaped(nullptr);
}

std::unique_ptr<CallControl> Runner::start(CallHandler& handler, CallRequest request) {
  return start_call(handler, std::move(request));
}

std::unique_ptr<Call> Runner::start_call(CallHandler& handler, CallRequest request) {
  request.stdio = with_log_plan(request.stdio);
  // Every contract's command reads its call's id under one name; where the platform gave none,
  // hotwrap makes one.
  if (request.id.empty()) request.id = new_call_id();
  request.env.add("HOTWRAP_CALL_ID", request.id);
  env_.admit(request.env);
  return std::unique_ptr<Call>(new Call(*this, handler, std::move(request)));
}

void Runner::forward_signal(int sig) {
  for (Call* c = calls_; c != nullptr; c = c->next_) c->forward_signal(sig);
}

void Runner::shut_down(Millis grace) {
  shutting_down_ = true;
  for (Call* c = calls_; c != nullptr; c = c->next_) c->shut_down(grace);
}

void Runner::bury(pid_t pid, const CallRequest& request, std::unique_ptr<StderrRelay> stderr) {
  burials_.push_back(std::make_unique<Burial>(*this, pid, request, std::move(stderr)));
}

StdioPlan Runner::with_log_plan(StdioPlan plan) const {
  // A hot call's stderr goes through hotwrap: its lines get the call id, and a failed call's
  // answer carries the end of it. The cold default format hands the command hotwrap's stdin and
  // stdout, and its stderr too unless each line is to carry the call id.
  if (plan.out == Stdio::Pipe || config_.stderr_prefix) plan.err = Stdio::Pipe;
  return plan;
}

void Runner::enable_prespawn() {
  if (!config_.prespawn) return;
  prespawn_ = true;
  refill();
}

void Runner::stop_prespawn() {
  prespawn_ = false;
  refill_timer_.stop();
  discard_warm(nullptr);
}

void Runner::call_ended() {
  // The next process boots while the container idles, not while a call competes with it.
  if (prespawn_ && !warm_) refill_timer_.start(std::chrono::microseconds(0));
}

void Runner::refill() {
  if (!prespawn_ || warm_) return;
  warm_env_file_ = next_env_file();
  CallEnv env;
  for (const std::string& name : options_.env_file_names) env.add(name, warm_env_file_);
  env_.admit(env);
  auto child = spawner_.spawn(exe_.c_str(), argv_.data(), env_.envp(env), with_log_plan({}),
                              env_.base_size());
  if (!child) {
    spawn_failures_->inc();
    // Not fatal: the next call spawns the usual way and reports the error if it persists.
    log(Level::Warn, {}, "prespawn of %s failed: %s", argv_[0], child.error().describe().c_str());
    return;
  }
  warm_ = std::move(*child);
  reaper_.watch(warm_->pid, this);
}

void Runner::discard_warm(const char* why) {
  if (!warm_) return;
  if (why != nullptr) log(Level::Info, {}, "prespawned %s %s", argv_[0], why);
  ::kill(-warm_->pid, SIGKILL);
  reaper_.forget(warm_->pid);  // reaped like any orphan
  warm_.reset();
  ::unlink(warm_env_file_.c_str());
}

void Runner::child_exited(int wstatus) {
  // It died waiting (crashed on boot, or does not read stdin at all), or could not be run. A new
  // one is started only after the next call, so a command that always exits at once cannot make
  // hotwrap spin.
  if (!warm_) return;
  std::string why;
  if (int err = spawner_.exec_error(warm_->pid); err != 0) {
    spawn_failures_->inc();
    why = std::string("could not be started (") + std::strerror(err) + ")";
  } else {
    why = "exited before its call (status " + std::to_string(exit_code_from_status(wstatus)) + ")";
  }
  discard_warm(why.c_str());
}

Result<Child> Runner::obtain_child(const StdioPlan& plan, CallEnv& env, std::string& env_file,
                                   bool& prespawned) {
  bool hot = plan == with_log_plan({});  // a call the waiting process was started for
  if (warm_ && hot) {
    // It may have died a moment ago, before its SIGCHLD was read: a call must never go to a dead
    // process when a new one would have served it.
    siginfo_t info{};
    bool dead =
        ::waitid(P_PID, static_cast<id_t>(warm_->pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == warm_->pid;
    if (!dead && write_env_file(warm_env_file_, env)) {
      Child c = std::move(*warm_);
      warm_.reset();
      reaper_.forget(c.pid);
      env_file = std::move(warm_env_file_);
      prespawned = true;
      prespawn_hits_->inc();
      return c;
    }
    discard_warm(dead ? "had exited" : "could not be given its call's environment");
  }
  if (prespawn_ && hot) {
    prespawn_misses_->inc();
    // Started for the call itself, it has the variables in its environment; it gets the file too,
    // so that a program written for prespawn finds them the same way whichever process serves.
    std::string path = next_env_file();
    if (write_env_file(path, env)) {
      CallEnv names;
      for (const std::string& name : options_.env_file_names) names.add(name, path);
      env_.admit(names);
      for (const auto& [name, value] : names.vars()) env.add(name, value);
      env_file = std::move(path);
    }
  }
  auto child = spawner_.spawn(exe_.c_str(), argv_.data(), env_.envp(env), plan, env_.base_size());
  if (!child) spawn_failures_->inc();
  return child;
}

std::string Runner::next_env_file() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/hotwrap-" +
         std::to_string(::getpid()) + "-" + std::to_string(++env_file_seq_) + ".env";
}

Call::Call(Runner& runner, CallHandler& handler, CallRequest request)
    : runner_(runner),
      handler_(handler),
      request_(std::move(request)),
      log_trace_(request_.id, request_.trace),
      term_timer_(runner.loop(), [this] { on_term_deadline(); }),
      kill_timer_(runner.loop(), [this] { on_kill_deadline(); }),
      shutdown_timer_(runner.loop(), [this] { on_shutdown_timer(); }),
      deferred_(runner.loop(), [this] { finish(deferred_outcome_); }),
      watch_output_(runner.loop(), [this] { watch_output(); }),
      started_(steady_clock::now()) {
  ++runner_.running_;
  next_ = runner_.calls_;
  if (next_ != nullptr) next_->prev_ = this;
  runner_.calls_ = this;
  const Config& cfg = runner_.config();
  // Both sides in microseconds: the system clock's nanoseconds would overflow int64 for a
  // deadline past 2262 and make a far-future deadline look already passed.
  auto now = std::chrono::time_point_cast<microseconds>(std::chrono::system_clock::now());
  Millis margin = request_.deadline_margin.value_or(cfg.deadline_margin);
  std::optional<microseconds> until_end;
  if (request_.deadline) {
    until_end = (*request_.deadline - now) - duration_cast<microseconds>(margin);
    if (until_end->count() <= 0) {
      log(Level::Warn, id(),
          "%s had passed (less HOTWRAP_DEADLINE_MARGIN_MS=%lld) when the call arrived; not "
          "running the command",
          request_.deadline_source.c_str(), static_cast<long long>(margin.count()));
      end_before_start({Outcome::Kind::Expired, 0});
      return;
    }
    limit_ = Limit::Deadline;
    margin_ = margin;
  }
  if (auto limit = duration_cast<microseconds>(cfg.timeout);
      limit.count() > 0 && (!until_end || limit < *until_end)) {
    // No call runs forever: HOTWRAP_TIMEOUT_MS bounds one with no deadline, and caps one whose
    // deadline is further away.
    until_end = limit;
    limit_ = Limit::Timeout;
  }
  if (until_end && runner_.deadline_admitted_) {
    // The instant hotwrap ends the call, whichever limit set it: what the command has to beat.
    std::array<char, kRfc3339MsMax> text;
    request_.env.add("HOTWRAP_DEADLINE", format_rfc3339_ms(now + *until_end, text));
  }
  auto child = runner_.obtain_child(request_.stdio, request_.env, env_file_, prespawned_);
  if (!child) {
    log(Level::Error, id(), "cannot run %s: %s", runner_.argv_[0],
        child.error().describe().c_str());
    end_before_start({Outcome::Kind::NotStarted, child.error().err});
    return;
  }
  child_ = std::move(*child);
  runner_.reaper().watch(child_.pid, this);
  Loop& loop = runner_.loop();
  if (child_.in)
    stdin_.emplace(
        loop, child_.in.get(), [this] { on_stdin_drained(); },
        [this](int) {
          // The command closed its stdin (EPIPE): the rest of the body is read and dropped.
          bool waited = input_ == Input::Open;
          close_stdin();
          if (waited) handler_.call_input_ready();
        });
  if (child_.out) {
    stdout_.emplace(
        loop, child_.out.get(),
        [this](std::string_view b) {
          if (b.size() >= kDefaultPipeSize) grow_pipes();
          bytes_out_ += b.size();
          handler_.call_output(b);
        },
        [](int) {}, FdReader::Kind::Pollable);
    // A command that is done within a couple of milliseconds is read when it exits
    // (child_exited drains the pipe): one wake-up for the call instead of three (its output,
    // EOF, its exit). What runs longer is watched from then on, so output that fills the pipe
    // holds the command up at most that long (and the timer slack: widen_timer_slack), once.
    watch_output_.start(kOutputWatchDelay);
  }
  if (child_.err) {
    // Read on the same schedule as stdout (watch_output): a quick command's stderr is taken in
    // one go when it exits.
    stderr_ = std::make_unique<StderrRelay>(loop, std::move(child_.err), cfg.stderr_prefix, id(),
                                            request_.trace);
  }
  if (until_end && request_.answers) {
    term_timer_.start(*until_end);
  } else if (until_end) {
    term_timer_.start(*until_end - duration_cast<microseconds>(cfg.kill_grace));
    kill_timer_.start(*until_end);
  }
}

std::string Call::deadline_text() const {
  switch (limit_) {
    case Limit::Deadline:
      return request_.deadline_source +
             " is HOTWRAP_DEADLINE_MARGIN_MS=" + std::to_string(margin_.count()) + " ms away";
    case Limit::Timeout:
      return "HOTWRAP_TIMEOUT_MS=" + std::to_string(runner_.config().timeout.count()) + " reached";
    case Limit::None: break;
  }
  return {};
}

void Call::end_before_start(Outcome outcome) {
  // Delivered on the next iteration, like every other ending: the protocol is still inside
  // start() now.
  phase_ = Phase::Deferred;
  deferred_outcome_ = outcome;
  deferred_.start(microseconds(0));
}

Call::~Call() {
  if (prev_ != nullptr) prev_->next_ = next_;
  if (next_ != nullptr) next_->prev_ = prev_;
  if (runner_.calls_ == this) runner_.calls_ = next_;
  if (phase_ == Phase::Finished) return;
  // Nobody wants the answer any more: the caller went away, or hotwrap stops at once.
  runner_.count(runner_.shutting_down_ ? Runner::Ending::ShutDown : Runner::Ending::CallerGone);
  if (child_.pid > 0) {
    log(Level::Info, id(),
        runner_.shutting_down_ ? "hotwrap is stopping; killing the command"
                               : "caller gone; killing the command");
    kill_group(SIGKILL);
    runner_.reaper().forget(child_.pid);
  }
  if (!env_file_.empty()) ::unlink(env_file_.c_str());
  --runner_.running_;
  runner_.call_ended();
}

void Call::feed(std::span<const std::string_view> pieces) {
  for (std::string_view p : pieces) bytes_in_ += p.size();
  if (!child_.in || !stdin_ || stdin_->failed()) return;
  stdin_->write(pieces);
  if (stdin_->queued() > 0) {  // the pipe filled up: this call streams
    grow_pipes();
    watch_output();
  }
}

void Call::end_input() {
  if (input_ == Input::Closed) return;
  input_ = Input::Ending;
  if (!stdin_ || stdin_->queued() == 0) close_stdin();
}

bool Call::input_congested() const {
  // One pipe's worth queued on top of the pipe itself: enough to keep the command busy.
  return child_.in && stdin_ && stdin_->queued() >= 64 * 1024;
}

void Call::pause_output() {
  output_paused_ = true;
  if (stdout_) stdout_->stop();
}

void Call::resume_output() {
  output_paused_ = false;
  if (!watch_output_.active()) watch_output();
}

void Call::watch_output() {
  watch_output_.stop();
  if (stdout_ && !output_paused_) stdout_->start();
  if (stderr_) stderr_->start();
}

void Call::shut_down(Millis grace) {
  if (phase_ != Phase::Running || draining_) return;
  draining_ = true;
  Millis kill_grace = runner_.config().kill_grace;
  // SIGTERM early enough that the command's trap runs and it still has the kill grace to exit.
  shutdown_timer_.start(
      duration_cast<microseconds>(grace > kill_grace ? grace - kill_grace : Millis(0)));
}

void Call::on_shutdown_timer() {
  if (phase_ == Phase::Running) {
    phase_ = Phase::ShuttingDown;
    Millis kill_grace = runner_.config().kill_grace;
    log(Level::Warn, id(),
        "shutting down: SIGTERM to the command; SIGKILL in %lld ms (HOTWRAP_KILL_GRACE_MS, "
        "within HOTWRAP_SHUTDOWN_GRACE_MS=%lld)",
        static_cast<long long>(kill_grace.count()),
        static_cast<long long>(runner_.config().shutdown_grace.count()));
    kill_group(SIGTERM);
    shutdown_timer_.start(duration_cast<microseconds>(kill_grace));
    return;
  }
  if (phase_ != Phase::ShuttingDown) return;
  log(Level::Warn, id(), "shutdown grace over; SIGKILL to the command");
  kill_group(SIGKILL);
  if (stderr_) stderr_->drain(kDrainLimit);
  runner_.reaper().forget(child_.pid);  // still reaped, just no longer ours to report
  finish({Outcome::Kind::ShutDown, 0});
}

void Call::forward_signal(int sig) {
  if (child_.pid > 0 &&
      (phase_ == Phase::Running || phase_ == Phase::Terminating || phase_ == Phase::ShuttingDown))
    ::kill(child_.pid, sig);
}

void Call::on_stdin_drained() {
  if (input_ == Input::Ending) {
    close_stdin();
  } else {
    handler_.call_input_ready();
  }
}

void Call::close_stdin() {
  // The writer stays (stopped, or failed) so nothing touches the closed descriptor again.
  input_ = Input::Closed;
  child_.in.reset();
}

void Call::grow_pipes() {
  // A call that moves a pipe's worth at once is a streaming one: 1 MiB pipes take a quarter of the
  // wakeups and system calls per byte. Only then, because a bigger pipe costs every call that
  // gets one (its pages are allocated up front). The kernel may refuse (pipe-max-size, per-user
  // pipe memory); the 64 KiB pipe still works.
  if (pipes_grown_) return;
  pipes_grown_ = true;
  if (child_.in) (void)::fcntl(child_.in.get(), F_SETPIPE_SZ, 1 << 20);
  if (child_.out) (void)::fcntl(child_.out.get(), F_SETPIPE_SZ, 1 << 20);
}

void Call::kill_group(int sig) {
  // Negative pid: the whole process group the command leads, grandchildren included.
  if (child_.pid > 0) ::kill(-child_.pid, sig);
}

void Call::on_term_deadline() {
  if (request_.answers) {
    on_answer_deadline();
    return;
  }
  phase_ = Phase::Terminating;
  log(Level::Warn, id(), "%s: SIGTERM to the command, SIGKILL in HOTWRAP_KILL_GRACE_MS=%lld",
      deadline_text().c_str(), static_cast<long long>(runner_.config().kill_grace.count()));
  kill_group(SIGTERM);
}

void Call::on_answer_deadline() {
  const Config& cfg = runner_.config();
  log(Level::Warn, id(),
      "%s: answering now; SIGTERM to the command, SIGKILL in HOTWRAP_KILL_GRACE_MS=%lld",
      deadline_text().c_str(), static_cast<long long>(cfg.kill_grace.count()));
  kill_group(SIGTERM);
  // The group is the runner's to finish off now; the answer does not wait for it.
  runner_.reaper().forget(child_.pid);
  Outcome timed_out{Outcome::Kind::TimedOut, 0};
  timed_out.limit = deadline_text();
  if (stderr_) {
    stderr_->drain(kDrainLimit);  // what it said up to now is the reason it gives
    timed_out.stderr_tail = stderr_->tail();
  }
  runner_.bury(child_.pid, request_, std::move(stderr_));
  finish(std::move(timed_out));
}

void Call::on_kill_deadline() {
  log(Level::Warn, id(), "the deadline: SIGKILL to the command");
  kill_group(SIGKILL);
  runner_.reaper().forget(child_.pid);  // still reaped, just no longer ours to report
  Outcome timed_out{Outcome::Kind::TimedOut, 0};
  timed_out.limit = deadline_text();
  finish(std::move(timed_out));
}

void Call::child_exited(int wstatus) {
  // Anything it left running in its group dies with it: a background job must not outlive the
  // call, nor hold the reply hostage by keeping stdout open.
  kill_group(SIGKILL);
  // Its exec failed (the file went away, or lost its x bit): the call was never run, as when the
  // spawn itself fails.
  if (int err = runner_.spawner_.exec_error(child_.pid); err != 0) {
    log(Level::Error, id(), "cannot run %s: %s", runner_.argv_[0],
        SysError{"execve", err}.describe().c_str());
    runner_.spawn_failures_->inc();
    finish({Outcome::Kind::NotStarted, err});
    return;
  }
  // What it wrote before exiting is in the pipes; take it without waiting for EOF, which a
  // process outside the group could withhold forever.
  if (stdout_) stdout_->drain(kDrainLimit);
  if (stderr_) stderr_->drain(kDrainLimit);
  if (phase_ == Phase::Terminating) {
    Outcome timed_out{Outcome::Kind::TimedOut, 0};
    timed_out.limit = deadline_text();
    finish(std::move(timed_out));
  } else if (phase_ == Phase::ShuttingDown) {
    finish({Outcome::Kind::ShutDown, 0});
  } else if (WIFSIGNALED(wstatus)) {
    finish({Outcome::Kind::Signaled, WTERMSIG(wstatus)});
  } else {
    finish({Outcome::Kind::Exited, WEXITSTATUS(wstatus)});
  }
}

void Call::finish(Outcome outcome) {
  // A failure's reason; every call's, for the capture.
  if (stderr_ && (!outcome.ok() || !runner_.config_.capture_dir.empty())) {
    outcome.stderr_tail = stderr_->tail();
  }
  phase_ = Phase::Finished;
  using K = Outcome::Kind;
  runner_.count(outcome.ok()                    ? Runner::Ending::Ok
                : outcome.timed_out()           ? Runner::Ending::Timeout
                : outcome.kind == K::NotStarted ? Runner::Ending::NotStarted
                : outcome.kind == K::ShutDown   ? Runner::Ending::ShutDown
                                                : Runner::Ending::Failed);
  term_timer_.stop();
  kill_timer_.stop();
  shutdown_timer_.stop();
  watch_output_.stop();
  stdout_.reset();
  stdin_.reset();
  // The pipes close when this function returns, after the answer has left: closing frees their
  // buffers, which the caller need not wait for.
  std::unique_ptr<StderrRelay> stderr_relay = std::move(stderr_);
  UniqueFd in = std::move(child_.in);
  UniqueFd out = std::move(child_.out);
  UniqueFd err = std::move(child_.err);
  --runner_.running_;
  if (!env_file_.empty()) ::unlink(env_file_.c_str());
  runner_.call_ended();
  outcome.stats = {duration_cast<microseconds>(steady_clock::now() - started_), bytes_in_,
                   bytes_out_, prespawned_};
  handler_.call_finished(outcome);  // may destroy this Call
}

}  // namespace hotwrap
