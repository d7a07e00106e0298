// UniqueFd: the one owner type for file descriptors.
#pragma once

#include <unistd.h>

#include <utility>

#include "hotwrap/result.hpp"

namespace hotwrap {

// Owns one file descriptor; closes it exactly once. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    // close() is not retried on EINTR: on Linux the descriptor is gone either way.
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// A close-on-exec pipe. `nonblock_read` / `nonblock_write` make hotwrap's own end non-blocking;
// the end handed to a child must stay blocking, as ordinary programs expect.
Result<Pipe> make_pipe(bool nonblock_read, bool nonblock_write);

// Makes `fd` non-blocking; for a descriptor with no other status flags (a new pipe's end).
Result<void> set_nonblocking(int fd);

}  // namespace hotwrap
