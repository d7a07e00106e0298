#include "transports/unix_socket.hpp"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "hotwrap/net.hpp"

namespace hotwrap {

AnnouncedUnixSocket::AnnouncedUnixSocket(AnnouncedUnixSocket&& other) noexcept
    : path_(std::move(other.path_)),
      phony_(std::move(other.phony_)),
      fd_(std::move(other.fd_)),
      files_(std::exchange(other.files_, false)) {}

void AnnouncedUnixSocket::release_files() {
  if (!files_) return;
  files_ = false;
  ::unlink(path_.c_str());
  ::unlink(phony_.c_str());
}

std::expected<AnnouncedUnixSocket, std::string> AnnouncedUnixSocket::open(const std::string& path,
                                                                          const std::string& what) {
  auto fail = [&](const std::string& why) { return std::unexpected(what + ": " + why); };
  size_t slash = path.rfind('/');
  if (path.empty() || slash == path.size() - 1) return fail("no socket file name");
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  AnnouncedUnixSocket s;
  s.path_ = path;
  s.phony_ = (slash == std::string::npos ? "" : path.substr(0, slash + 1)) + "phony" + base;
  // sun_path holds 108 bytes including the terminating NUL; the phony name is the longer one.
  if (s.phony_.size() > sizeof(sockaddr_un{}.sun_path) - 1) {
    return fail(
        "path too long for a unix socket (with the 'phony' prefix it must fit in 107 bytes)");
  }
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail("directory " + dir + " does not exist; mount the socket directory first");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return fail("directory " + dir + " is not writable by uid " + std::to_string(::getuid()));
  }
  // Stale files from an earlier run would make bind() fail or point the caller at a dead socket.
  ::unlink(s.phony_.c_str());
  ::unlink(s.path_.c_str());
  auto fd = listen_unix(s.phony_);
  if (!fd) return fail("cannot listen on " + s.phony_ + ": " + fd.error().describe());
  s.fd_ = std::move(*fd);
  s.files_ = true;
  // The caller runs as another user.
  if (::chmod(s.phony_.c_str(), 0666) < 0) {
    return fail("chmod 0666 " + s.phony_ + ": " + std::strerror(errno));
  }
  // The symlink must name a bare file in the same directory (Fn's agent accepts nothing else).
  std::string target = "phony" + base;
  if (::symlink(target.c_str(), s.path_.c_str()) < 0) {
    return fail("symlink " + s.path_ + " -> " + target + ": " + std::strerror(errno));
  }
  return s;
}

}  // namespace hotwrap
