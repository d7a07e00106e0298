#include "hotwrap/loop.hpp"

#include <sys/epoll.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include "hotwrap/fd.hpp"
#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {
// libevent's allocation failures and internal errors end in abort(); they are logged first.
void log_libevent(int severity, const char* msg) {
  if (severity >= EVENT_LOG_WARN) log(Level::Warn, {}, "libevent: %s", msg);
}
}  // namespace

Result<std::unique_ptr<Loop>> Loop::create() {
  event_set_log_callback(log_libevent);
  event_config* cfg = event_config_new();
  if (cfg == nullptr) return sys_fail("event_config_new", ENOMEM);
  // No EPOLL_USE_CHANGELIST: it defers epoll_ctl to the next dispatch, and a pipe closed and
  // reopened under the same fd number within one iteration (every call does this) could then be
  // left out of epoll and never report readiness.
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
  event_base* b = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (b == nullptr) return sys_fail("event_base_new", errno != 0 ? errno : ENOMEM);
  return std::unique_ptr<Loop>(new Loop(EventBasePtr(b)));
}

Loop::Loop(EventBasePtr base)
    : base_(std::move(base)), scratch_(std::make_unique_for_overwrite<char[]>(kScratchSize)) {}

int Loop::run() {
  // A stop() before run() (a call that ended while main was still setting up, e.g. a command
  // reaped by main's first reap()) would be lost: event_base_loop clears the break flag.
  if (stopping_) return exit_code_;
  if (event_base_loop(base_.get(), 0) < 0) {
    log(Level::Error, {}, "event loop failed");
    return 1;
  }
  if (!stopping_) {
    // The signal watch is always registered, so this is a bug, not a normal end.
    log(Level::Error, {}, "event loop ran out of events");
    return 1;
  }
  return exit_code_;
}

void Loop::stop(int exit_code) {
  exit_code_ = exit_code;
  stopping_ = true;
  event_base_loopbreak(base_.get());
}

bool fd_pollable(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return true;
  // Anything else is asked of epoll itself, with a probe instance of our own.
  UniqueFd probe(::epoll_create1(EPOLL_CLOEXEC));
  if (!probe) return true;  // cannot tell: assume the common case
  epoll_event ev{};
  ev.events = EPOLLIN;
  return ::epoll_ctl(probe.get(), EPOLL_CTL_ADD, fd, &ev) == 0 || errno != EPERM;
}

Watch::Watch(Loop& loop, int fd, short what, std::function<void()> on_ready)
    : base_(loop.base()), fd_(fd), what_(what), on_ready_(std::move(on_ready)) {}

void Watch::start() {
  if (active_) return;
  if (!ev_) {
    ev_.reset(
        event_new(base_, fd_, static_cast<short>(what_ | EV_PERSIST), &Watch::dispatch, this));
    if (!ev_) std::abort();  // out of memory at an event: nothing to degrade to
  }
  event_add(ev_.get(), nullptr);
  active_ = true;
}

void Watch::stop() {
  if (active_) {
    event_del(ev_.get());
    active_ = false;
  }
}

void Watch::dispatch(evutil_socket_t, short, void* self) {
  static_cast<Watch*>(self)->on_ready_();
}

Timer::Timer(Loop& loop, std::function<void()> on_fire)
    : base_(loop.base()), on_fire_(std::move(on_fire)) {}

Timer::~Timer() {
  if (assigned_) evtimer_del(&ev_);
}

void Timer::start(std::chrono::microseconds delay) {
  if (!assigned_) {
    if (evtimer_assign(&ev_, base_, &Timer::dispatch, this) != 0) std::abort();
    assigned_ = true;
  }
  if (delay.count() < 0) delay = std::chrono::microseconds(0);
  timeval tv{static_cast<time_t>(delay.count() / 1'000'000),
             static_cast<suseconds_t>(delay.count() % 1'000'000)};
  evtimer_add(&ev_, &tv);
}

void Timer::stop() {
  if (assigned_) evtimer_del(&ev_);
}

bool Timer::active() const {
  return assigned_ && evtimer_pending(&ev_, nullptr) != 0;
}

void Timer::dispatch(evutil_socket_t, short, void* self) {
  static_cast<Timer*>(self)->on_fire_();
}

}  // namespace hotwrap
