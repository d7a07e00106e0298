// Byte streams over non-blocking fds: a reader that hands out chunks and a writer that never
// blocks (it writes what the kernel takes and queues the rest). Neither owns its fd.
#pragma once

#include <event2/buffer.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "hotwrap/loop.hpp"

namespace hotwrap {

struct EvbufferFree {
  void operator()(evbuffer* b) const { evbuffer_free(b); }
};
using EvbufferPtr = std::unique_ptr<evbuffer, EvbufferFree>;

// Reads `fd` while started; each chunk goes to on_data (valid only during the call, it lives in the
// loop's scratch buffer); on_end(0) at EOF, on_end(errno) on a read error. After on_end the reader
// is stopped for good. A descriptor epoll refuses (a regular file or /dev/null as hotwrap's stdin)
// is read one chunk per loop iteration instead: read() never waits on those.
class FdReader {
 public:
  // What the reader knows of `fd`: Unknown asks the kernel (fd_pollable) once; Pollable is a pipe
  // or socket hotwrap made itself, which spares every call's readers that question.
  enum class Kind { Unknown, Pollable };
  FdReader(Loop& loop, int fd, std::function<void(std::string_view)> on_data,
           std::function<void(int err)> on_end, Kind kind = Kind::Unknown);

  void start();
  void stop();
  bool reading() const { return wanted_; }
  bool ended() const { return ended_; }

  // Reads what is already there, up to `limit` bytes, without waiting; used when the writer on the
  // other side is known to be gone but something it left behind may still hold the pipe open.
  // A read shorter than asked emptied the pipe, so the drain stops there without asking again for
  // the EOF or EAGAIN that would follow; the reader is then not ended().
  void drain(size_t limit);

 private:
  enum class Read { Data, Again, Ended };
  // One read(). After Ended the owner may have destroyed the reader (in on_end).
  Read read_once(size_t limit);
  void read_unpollable();
  Loop& loop_;
  int fd_;
  std::function<void(std::string_view)> on_data_;
  std::function<void(int)> on_end_;
  Watch watch_;
  std::optional<Timer> unpollable_;  // set instead of using watch_ when epoll refuses fd
  bool wanted_ = false;              // started and not stopped (for the unpollable path)
  bool ended_ = false;
};

// Writes to `fd` without ever blocking. on_drained fires when the queue becomes empty after having
// held something; on_error(errno) once on a write error (EPIPE: the reader went away), after which
// everything written is discarded.
class FdWriter {
 public:
  FdWriter(Loop& loop, int fd, std::function<void()> on_drained, std::function<void(int)> on_error);

  // Writes the pieces in order (one writev when nothing is queued).
  void write(std::span<const std::string_view> pieces);
  void write(std::string_view data) { write(std::span<const std::string_view>(&data, 1)); }

  size_t queued() const { return queue_ ? evbuffer_get_length(queue_.get()) : 0; }
  bool failed() const { return failed_; }

 private:
  void flush();
  void fail(int err);
  int fd_;
  EvbufferPtr queue_;  // made when a write first leaves bytes over (most never do)
  std::function<void()> on_drained_;
  std::function<void(int)> on_error_;
  Watch watch_;
  bool failed_ = false;
};

}  // namespace hotwrap
