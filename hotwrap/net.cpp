#include "hotwrap/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>

namespace hotwrap {

namespace {

constexpr std::string_view kExample = "e.g. 127.0.0.1:9001, [::1]:9001 or localhost:9001";

bool is_localhost(std::string_view host) {
  static constexpr std::string_view kName = "localhost";
  if (host.size() != kName.size()) return false;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i] >= 'A' && host[i] <= 'Z' ? static_cast<char>(host[i] - 'A' + 'a') : host[i];
    if (c != kName[i]) return false;
  }
  return true;
}

// A numeric address (or localhost) and port as a sockaddr; false when `host` is neither.
bool to_sockaddr(std::string_view host, uint16_t port, sockaddr_storage& ss, socklen_t& len) {
  ss = {};
  if (is_localhost(host)) host = "127.0.0.1";
  // inet_pton needs a terminated string; an address is short, anything longer is no address.
  char buf[INET6_ADDRSTRLEN];
  if (host.size() >= sizeof buf) return false;
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (::inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// 0, or why `path` cannot be a unix socket address.
int unix_address(const std::string& path, sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  // An empty path would name an abstract socket instead of a file.
  if (path.empty()) return EINVAL;
  // sun_path holds the path and its terminating NUL.
  if (path.size() >= sizeof addr.sun_path) return ENAMETOOLONG;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return 0;
}

// Every socket hotwrap makes: a stream, non-blocking, close-on-exec.
Result<UniqueFd> new_socket(int family) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return sys_fail("socket");
  return fd;
}

void set_nodelay(int fd) {
  int on = 1;
  // Best effort: without it the connection still works, only slower.
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

Result<TcpListener> listen_on(int family, uint16_t port, int backlog) {
  auto sock = new_socket(family);
  if (!sock) return std::unexpected(sock.error());
  UniqueFd fd = std::move(*sock);
  int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0) {
    return sys_fail("setsockopt SO_REUSEADDR");
  }
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET6) {
    // Explicitly off: the default follows net.ipv6.bindv6only, which a host may have set.
    int off = 0;
    if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) < 0) {
      return sys_fail("setsockopt IPV6_V6ONLY");
    }
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_any;
    a->sin6_port = htons(port);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    a->sin_port = htons(port);
    len = sizeof *a;
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0) return sys_fail("bind");
  if (::listen(fd.get(), backlog) < 0) return sys_fail("listen");
  len = sizeof ss;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    return sys_fail("getsockname");
  }
  uint16_t bound = family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                      : reinterpret_cast<sockaddr_in*>(&ss)->sin_port;
  return TcpListener{std::move(fd), ntohs(bound), family == AF_INET6};
}

}  // namespace

std::expected<HostPort, std::string> parse_host_port(std::string_view text) {
  auto fail = [](std::string why) { return std::unexpected(std::move(why)); };
  if (text.empty()) return fail("empty; expected host:port, " + std::string(kExample));
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == text.npos) return fail("an IPv6 address needs its closing ']', e.g. [::1]:9001");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("no ':port' after ']', e.g. [::1]:9001");
    }
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == text.npos) return fail("no port; expected host:port, " + std::string(kExample));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != host.npos) {
      return fail("an IPv6 address must be in brackets, e.g. [::1]:9001");
    }
  }
  if (host.empty()) return fail("no host before ':port', " + std::string(kExample));
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return fail("port '" + std::string(port) + "' is not a number from 1 to 65535");
  }
  sockaddr_storage ss;
  socklen_t len;
  if (!to_sockaddr(host, 0, ss, len)) {
    if (text.front() == '[') {
      return fail("'" + std::string(host) + "' is not a numeric IPv6 address");
    }
    return fail("'" + std::string(host) +
                "' is a host name, and hotwrap cannot resolve names: use a numeric address or "
                "localhost, " +
                std::string(kExample));
  }
  // "[1.2.3.4]" is no IPv6 address, and a bare IPv6 address was refused above.
  if ((text.front() == '[') != (ss.ss_family == AF_INET6)) {
    return fail("'" + std::string(host) + "' is not a numeric IPv6 address");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

Result<UniqueFd> listen_unix(const std::string& path) {
  sockaddr_un addr;
  if (int err = unix_address(path, addr); err != 0) return sys_fail("bind", err);
  auto sock = new_socket(AF_UNIX);
  if (!sock) return std::unexpected(sock.error());
  UniqueFd fd = std::move(*sock);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    return sys_fail("bind");
  }
  if (::listen(fd.get(), 128) < 0) return sys_fail("listen");
  return fd;
}

Result<TcpListener> listen_tcp(uint16_t port, int backlog) {
  auto v6 = listen_on(AF_INET6, port, backlog);
  if (v6) return v6;
  int err = v6.error().err;
  if (err != EAFNOSUPPORT && err != EADDRNOTAVAIL) return v6;
  return listen_on(AF_INET, port, backlog);
}

HostPort peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  HostPort out;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return out;
  char text[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    out.port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      ::inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, sizeof text);
    } else {
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    }
    out.port = ntohs(in6->sin6_port);
  }
  out.host = text;
  return out;
}

Result<UniqueFd> accept_connection(int listen_fd) {
  for (;;) {
    sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) set_nodelay(fd);
      return UniqueFd(fd);
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    return sys_fail("accept4");
  }
}

bool out_of_descriptors(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

Result<UniqueFd> connect_tcp(std::string_view host, uint16_t port) {
  sockaddr_storage ss;
  socklen_t len;
  if (!to_sockaddr(host, port, ss, len)) return sys_fail("inet_pton", EINVAL);
  auto sock = new_socket(ss.ss_family);
  if (!sock) return std::unexpected(sock.error());
  UniqueFd fd = std::move(*sock);
  set_nodelay(fd.get());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS) {
    return sys_fail("connect");
  }
  return fd;
}

Result<UniqueFd> connect_unix(const std::string& path) {
  sockaddr_un addr;
  if (int err = unix_address(path, addr); err != 0) return sys_fail("connect", err);
  auto sock = new_socket(AF_UNIX);
  if (!sock) return std::unexpected(sock.error());
  UniqueFd fd = std::move(*sock);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    return sys_fail("connect");
  }
  return fd;
}

Result<void> connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return sys_fail("getsockopt");
  if (err != 0) return sys_fail("connect", err);
  return {};
}

void reset_on_close(int fd) {
  linger l{1, 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

}  // namespace hotwrap
