#include "tcp_client.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace e2e::tcp {

Answer call(uint16_t port, std::string_view request, Ms timeout, bool half_close) {
  Answer a;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  auto end = Clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<Ms>(end - Clock::now()).count();
    if (left <= 0) {
      a.timed_out = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      a.body.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      a.eof = true;
      break;
    } else if (errno != EINTR) {
      a.reset = true;
      break;
    }
  }
  ::close(fd);
  return a;
}

}  // namespace e2e::tcp
