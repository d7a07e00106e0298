// A unix socket announced by a symlink: the socket listens under a hidden name first, and the
// public name appears (as a relative symlink to it) only once it listens, because a caller that
// watches the directory takes the public name's creation as "ready" (Fn's agent does).
#pragma once

#include <expected>
#include <string>

#include "hotwrap/fd.hpp"

namespace hotwrap {

// Owns the two socket files: removes them when destroyed (or at release_files()).
class AnnouncedUnixSocket {
 public:
  // `path` is the public name; the socket itself is "phony<name>" in the same directory. Stale
  // files of an earlier run are removed first. A failure is one start-up line about `what`
  // (the setting that named the path).
  static std::expected<AnnouncedUnixSocket, std::string> open(const std::string& path,
                                                              const std::string& what);
  AnnouncedUnixSocket(AnnouncedUnixSocket&& other) noexcept;
  AnnouncedUnixSocket& operator=(AnnouncedUnixSocket&&) = delete;
  AnnouncedUnixSocket(const AnnouncedUnixSocket&) = delete;
  ~AnnouncedUnixSocket() { release_files(); }

  // The listening socket, for the Listener; the files stay until release_files().
  UniqueFd take_listener() { return std::move(fd_); }
  // Removes both files: nobody new can connect (shutdown), calls in flight go on.
  void release_files();
  const std::string& path() const { return path_; }

 private:
  AnnouncedUnixSocket() = default;
  std::string path_;
  std::string phony_;
  UniqueFd fd_;
  bool files_ = false;
};

}  // namespace hotwrap
