// Sockets: every socket hotwrap makes or accepts comes from here, as an owner, non-blocking and
// close-on-exec (a command must not inherit a listener or a connection).
//
// Host names: the static binary has no resolver (hotwrap/no_resolver.c), so an address is a
// numeric IPv4 address, a bracketed numeric IPv6 address, or `localhost`, which means 127.0.0.1
// (the address the Lambda emulators listen on, and the first line of every /etc/hosts). Any
// other name is refused when it is parsed, with a message that says so, instead of failing
// later at connect time.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "hotwrap/fd.hpp"
#include "hotwrap/result.hpp"

namespace hotwrap {

// A host (numeric, or `localhost`) and a port, as in AWS_LAMBDA_RUNTIME_API.
struct HostPort {
  std::string host;  // IPv6 without its brackets
  uint16_t port = 0;
};

// Parses "host:port", "[v6]:port" or "localhost:port"; the error says what is wrong and how to
// write it.
std::expected<HostPort, std::string> parse_host_port(std::string_view text);

// A unix stream socket listening at `path` (which must not exist), backlog 128. A path that does
// not fit sun_path fails with ENAMETOOLONG, an empty one with EINVAL, both from "bind".
Result<UniqueFd> listen_unix(const std::string& path);

struct TcpListener {
  UniqueFd fd;
  uint16_t port = 0;        // the bound port: the one asked for, or the kernel's for port 0
  bool dual_stack = false;  // one IPv6 socket that takes IPv4 too; false: IPv4 only
};

// A TCP socket listening on `port` of every interface, SO_REUSEADDR (a restart must not wait
// out TIME_WAIT). One IPv6 socket with IPV6_V6ONLY off when the host has IPv6, so IPv4 clients
// arrive too as ::ffff:a.b.c.d; IPv4 0.0.0.0 when the kernel has no IPv6 (socket() says
// EAFNOSUPPORT) or it is switched off (bind() says EADDRNOTAVAIL). One socket rather than two:
// nothing to keep in step, and no half-working listener when only one family binds.
Result<TcpListener> listen_tcp(uint16_t port, int backlog = 128);

// One pending connection from `listen_fd`. EINTR and ECONNABORTED (a client that gave up while
// queued) are retried here; any other errno comes back for the caller to sort: EAGAIN (no more
// pending), out_of_descriptors(), or other. TCP connections get TCP_NODELAY (see connect_tcp).
Result<UniqueFd> accept_connection(int listen_fd);

// The address and port of a TCP connection's other end (CGI's REMOTE_ADDR and REMOTE_PORT): an
// IPv4 client of the dual-stack listener as a.b.c.d, not ::ffff:a.b.c.d. Empty host when the
// socket is not an IP socket or is no longer connected.
HostPort peer_address(int fd);

// EMFILE, ENFILE, ENOBUFS, ENOMEM: accept() cannot succeed until descriptors or memory free up,
// and the pending connection keeps the listener readable, so retrying at once would spin.
bool out_of_descriptors(int err);

// Starts a TCP connection to `host` (numeric IPv4 or IPv6 without brackets, or `localhost`) and
// `port`. The socket is usually still connecting (EINPROGRESS is not an error): wait until it is
// writable, then ask connect_result(). A host that is not numeric fails with EINVAL from
// "inet_pton". TCP_NODELAY is set: an HTTP client writes a head and then a body, and Nagle's
// algorithm would hold the body until the head is acknowledged (up to 40 ms of delayed ACK).
Result<UniqueFd> connect_tcp(std::string_view host, uint16_t port);

// A unix stream connection to `path`. It completes or fails at once (EAGAIN: the listener's
// backlog is full). Paths are checked as in listen_unix().
Result<UniqueFd> connect_unix(const std::string& path);

// The socket's close will reset the connection (SO_LINGER 0: RST, not FIN), so that a peer
// reading to EOF sees an error instead of a complete-looking end.
void reset_on_close(int fd);

// Whether a connect started by connect_tcp() succeeded, once its socket is writable: the errno it
// failed with (ECONNREFUSED, ETIMEDOUT, ...) as the error.
Result<void> connect_result(int fd);

}  // namespace hotwrap
