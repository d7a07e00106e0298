#include "transports/listener.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "hotwrap/log.hpp"
#include "hotwrap/net.hpp"

namespace hotwrap {

using std::chrono::microseconds;

Listener::Listener(Loop& loop, UniqueFd listen_fd, size_t max_connections, Factory make)
    : loop_(loop),
      listen_fd_(std::move(listen_fd)),
      max_(max_connections),
      make_(std::move(make)),
      sweep_timer_(loop, [this] { sweep(); }),
      accept_retry_(loop, [this] {
        fd_exhausted_ = false;
        update_accepting();
      }) {}

Listener::~Listener() {
  conns_.clear();  // kills the calls still running, before anything they use goes
}

void Listener::start() {
  accept_watch_.emplace(loop_, listen_fd_.get(), EV_READ, [this] { on_accept(); });
  accept_watch_->start();
}

void Listener::update_accepting() {
  if (!accept_watch_) return;
  if (!draining_ && !fd_exhausted_ && conns_.size() < max_) {
    accept_watch_->start();
  } else {
    accept_watch_->stop();
  }
}

void Listener::on_accept() {
  while (conns_.size() < max_) {
    auto fd = accept_connection(listen_fd_.get());
    if (fd) {
      // A unix socket's default buffer (~200 KiB) makes a streaming response stall and re-arm
      // several times per MiB; 1 MiB each way lets a pipe's worth pass in one write. The memory
      // is only used when a caller lags; the kernel caps it at net.core.[rw]mem_max.
      int size = 1 << 20;
      (void)::setsockopt(fd->get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
      (void)::setsockopt(fd->get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
      conns_.push_back(make_(std::move(*fd), *this));
      emfile_logged_ = false;
      continue;
    }
    int err = fd.error().err;
    if (out_of_descriptors(err)) {
      // The pending connection stays readable, so retrying at once would spin.
      if (!emfile_logged_) {
        log(Level::Warn, {}, "accept: %s; new connections wait until descriptors free up",
            std::strerror(err));
        emfile_logged_ = true;
      }
      fd_exhausted_ = true;
      accept_retry_.start(std::chrono::milliseconds(100));
    } else if (err != EAGAIN) {
      log(Level::Warn, {}, "accept: %s", std::strerror(err));
    }
    break;
  }
  // A limit of one is a contract's own choice (funker's one call), not a crowd worth a line.
  if (conns_.size() >= max_ && max_ > 1 && !limit_logged_) {
    log(Level::Warn, {},
        "%zu connections open, the limit (HOTWRAP_MAX_CONNECTIONS=%zu); further connections wait",
        max_, max_);
  }
  limit_logged_ = conns_.size() >= max_;
  update_accepting();
}

void Listener::retire() {
  sweep_timer_.start(microseconds(0));
}

void Listener::sweep() {
  conns_.remove_if([](const std::unique_ptr<Connection>& c) { return c->closed(); });
  if (draining_ && conns_.empty() && on_empty_) {
    auto done = std::move(on_empty_);
    on_empty_ = nullptr;
    done();
    return;
  }
  update_accepting();
}

void Listener::drain(std::function<void()> on_empty) {
  draining_ = true;
  on_empty_ = std::move(on_empty);
  accept_watch_.reset();
  listen_fd_.reset();
  for (auto& c : conns_) c->close_if_idle();
  sweep_timer_.start(microseconds(0));
}

}  // namespace hotwrap
