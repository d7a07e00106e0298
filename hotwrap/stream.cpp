#include "hotwrap/stream.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace hotwrap {

FdReader::FdReader(Loop& loop, int fd, std::function<void(std::string_view)> on_data,
                   std::function<void(int)> on_end, Kind kind)
    : loop_(loop),
      fd_(fd),
      on_data_(std::move(on_data)),
      on_end_(std::move(on_end)),
      watch_(loop, fd, EV_READ, [this] { read_once(Loop::kScratchSize); }) {
  if (kind == Kind::Unknown && !fd_pollable(fd))
    unpollable_.emplace(loop, [this] { read_unpollable(); });
}

void FdReader::start() {
  if (ended_) return;
  wanted_ = true;
  if (unpollable_) {
    if (!unpollable_->active()) unpollable_->start(std::chrono::microseconds(0));
  } else {
    watch_.start();
  }
}

void FdReader::stop() {
  wanted_ = false;
  watch_.stop();
  if (unpollable_) unpollable_->stop();
}

FdReader::Read FdReader::read_once(size_t limit) {
  std::span<char> buf = loop_.scratch();
  if (limit < buf.size()) buf = buf.first(limit);
  ssize_t n = ::read(fd_, buf.data(), buf.size());
  if (n > 0) {
    on_data_(std::string_view(buf.data(), static_cast<size_t>(n)));
    return Read::Data;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return Read::Again;
  int err = n == 0 ? 0 : errno;
  ended_ = true;
  stop();
  on_end_(err);
  return Read::Ended;
}

void FdReader::read_unpollable() {
  Read r = read_once(Loop::kScratchSize);
  if (r == Read::Ended) return;  // `this` may be gone
  // One chunk per iteration, so the rest of the loop runs between them; a descriptor that says
  // EAGAIN without being pollable is retried without spinning.
  if (wanted_) {
    unpollable_->start(r == Read::Data ? std::chrono::microseconds(0)
                                       : std::chrono::microseconds(10'000));
  }
}

void FdReader::drain(size_t limit) {
  // on_data may destroy nothing here: drain is only called by the reader's owner, outside its own
  // callbacks, so `this` stays valid across the loop.
  while (!ended_ && limit > 0) {
    size_t before = limit;
    std::span<char> buf = loop_.scratch();
    size_t want = limit < buf.size() ? limit : buf.size();
    ssize_t n = ::read(fd_, buf.data(), want);
    if (n > 0) {
      limit -= static_cast<size_t>(n);
      on_data_(std::string_view(buf.data(), static_cast<size_t>(n)));
      // A pipe's read returns less than asked only when it has nothing more: asking again would
      // only return the EOF or EAGAIN (one system call a call, for a command that wrote little).
      if (static_cast<size_t>(n) < want) return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      ended_ = true;
      stop();
      on_end_(n == 0 ? 0 : errno);
      return;
    }
    if (limit == before) return;
  }
}

FdWriter::FdWriter(Loop& loop, int fd, std::function<void()> on_drained,
                   std::function<void(int)> on_error)
    : fd_(fd),
      on_drained_(std::move(on_drained)),
      on_error_(std::move(on_error)),
      watch_(loop, fd, EV_WRITE, [this] { flush(); }) {}

void FdWriter::write(std::span<const std::string_view> pieces) {
  if (failed_) return;
  size_t skip = 0;  // bytes of `pieces` already taken by the kernel
  if (queued() == 0) {
    iovec iov[64];
    size_t n_iov = 0;
    for (std::string_view p : pieces) {
      if (n_iov == 64) break;
      if (!p.empty()) iov[n_iov++] = {const_cast<char*>(p.data()), p.size()};
    }
    if (n_iov > 0) {
      ssize_t n;
      do {
        n = ::writev(fd_, iov, static_cast<int>(n_iov));
      } while (n < 0 && errno == EINTR);
      if (n < 0 && errno != EAGAIN) {
        fail(errno);
        return;
      }
      skip = n > 0 ? static_cast<size_t>(n) : 0;
    }
  }
  for (std::string_view p : pieces) {
    if (skip >= p.size()) {
      skip -= p.size();
      continue;
    }
    if (!queue_) {
      queue_.reset(evbuffer_new());
      if (!queue_) std::abort();  // out of memory: nothing to degrade to
    }
    evbuffer_add(queue_.get(), p.data() + skip, p.size() - skip);
    skip = 0;
  }
  if (queued() > 0) watch_.start();
}

void FdWriter::flush() {
  while (queued() > 0) {
    int n = evbuffer_write(queue_.get(), fd_);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      fail(errno);
      return;
    }
    if (n == 0) return;
  }
  watch_.stop();
  on_drained_();  // may destroy this writer: nothing after it
}

void FdWriter::fail(int err) {
  failed_ = true;
  watch_.stop();
  if (queue_) evbuffer_drain(queue_.get(), queued());
  on_error_(err);  // may destroy this writer: nothing after it
}

}  // namespace hotwrap
