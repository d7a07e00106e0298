// Connections on a listening socket: the accept loop, the connection limit, the back-off when
// descriptors run out, and draining. Knows no protocol: each accepted socket is handed to a
// factory the composition root got from the protocol.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <optional>

#include "hotwrap/fd.hpp"
#include "hotwrap/loop.hpp"

namespace hotwrap {

class Listener;

// One accepted connection as its protocol serves it. Owned by the Listener.
class Connection {
 public:
  virtual ~Connection() = default;
  // Draining: close now unless a call is in flight (then after its answer).
  virtual void close_if_idle() = 0;
  // Finished: the listener destroys it on its next sweep, outside the connection's callbacks.
  virtual bool closed() const = 0;
};

class Listener {
 public:
  using Factory = std::function<std::unique_ptr<Connection>(UniqueFd socket, Listener& listener)>;

  // `listen_fd` is non-blocking and listening. Nothing is accepted before start().
  Listener(Loop& loop, UniqueFd listen_fd, size_t max_connections, Factory make);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  void start();
  // A connection has closed (closed() is true): it is swept on the next loop iteration.
  void retire();
  // Stops accepting and closes the listening socket and every idle connection; `on_empty` runs
  // once no connection is left (from the loop, never from inside drain()).
  void drain(std::function<void()> on_empty);
  bool draining() const { return draining_; }
  size_t size() const { return conns_.size(); }
  Loop& loop() const { return loop_; }

 private:
  void on_accept();
  void sweep();
  void update_accepting();

  Loop& loop_;
  UniqueFd listen_fd_;
  const size_t max_;
  Factory make_;
  std::optional<Watch> accept_watch_;
  Timer sweep_timer_;
  Timer accept_retry_;  // after EMFILE: try accept() again later instead of spinning
  std::list<std::unique_ptr<Connection>> conns_;
  std::function<void()> on_empty_;
  bool fd_exhausted_ = false;
  bool emfile_logged_ = false;  // one line per episode, not one per retry
  bool limit_logged_ = false;
  bool draining_ = false;
};

}  // namespace hotwrap
