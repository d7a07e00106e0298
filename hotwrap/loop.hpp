// The event loop (libevent) and the two things that wait on it: fd readiness and timers.
// Only this module calls into libevent's dispatch; everything else is called back from here.
#pragma once

#include <event2/event.h>
#include <event2/event_struct.h>

#include <chrono>
#include <functional>
#include <memory>
#include <span>

#include "hotwrap/result.hpp"

namespace hotwrap {

struct EventBaseFree {
  void operator()(event_base* b) const { event_base_free(b); }
};
struct EventFree {
  void operator()(event* e) const { event_free(e); }
};
using EventBasePtr = std::unique_ptr<event_base, EventBaseFree>;
using EventPtr = std::unique_ptr<event, EventFree>;

class Loop {
 public:
  static Result<std::unique_ptr<Loop>> create();

  event_base* base() const { return base_.get(); }

  // Runs callbacks until stop(); returns the code given to stop() (at once if it came first).
  int run();
  void stop(int exit_code);
  bool stopping() const { return stopping_; }

  // A read buffer shared by every reader: its contents are valid only inside the callback that
  // received them (one big buffer instead of one per stream keeps per-call memory flat).
  std::span<char> scratch() { return {scratch_.get(), kScratchSize}; }

  static constexpr size_t kScratchSize = 256 * 1024;

 private:
  explicit Loop(EventBasePtr base);
  EventBasePtr base_;
  std::unique_ptr<char[]> scratch_;
  int exit_code_ = 0;
  bool stopping_ = false;
};

// True when epoll can watch `fd`: pipes, sockets and terminals can; regular files and /dev/null
// (what hotwrap's stdin may be outside a container runtime) cannot.
bool fd_pollable(int fd);

// Calls `on_ready` each time `fd` is ready for `what` (EV_READ or EV_WRITE) while started.
// Not movable: libevent holds a pointer to it. Its libevent event is made on the first start():
// a call sets up watches and timers for every case, and most of them are never used.
class Watch {
 public:
  Watch(Loop& loop, int fd, short what, std::function<void()> on_ready);
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  void start();
  void stop();
  bool active() const { return active_; }

 private:
  static void dispatch(evutil_socket_t, short, void* self);
  event_base* base_;
  int fd_;
  short what_;
  std::function<void()> on_ready_;
  EventPtr ev_;  // made on the first start()
  bool active_ = false;
};

// A one-shot timer. Not movable: libevent holds a pointer to it. Its libevent event lives inside
// it, set up on the first start(): a call arms two timers, and each would otherwise be an
// allocation (hotwrap links the libevent it was compiled against, so the struct's layout is
// the library's).
class Timer {
 public:
  Timer(Loop& loop, std::function<void()> on_fire);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)arms the timer; a negative or zero delay fires on the next loop iteration.
  void start(std::chrono::microseconds delay);
  void stop();
  bool active() const;

 private:
  static void dispatch(evutil_socket_t, short, void* self);
  event_base* base_;
  std::function<void()> on_fire_;
  event ev_{};  // assigned on the first start()
  bool assigned_ = false;
};

}  // namespace hotwrap
