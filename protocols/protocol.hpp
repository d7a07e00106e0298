// A protocol decodes calls from the bytes a transport brings, runs them on the Runner and
// encodes their outcomes. Protocols include no socket code and never touch processes; the
// composition root (app/) picks one, gives it its transport, and drives its lifecycle.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hotwrap/config.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/runner.hpp"
#include "protocols/fn_policy.hpp"
#include "transports/listener.hpp"

namespace hotwrap {

// The composition root's side: the one place hotwrap's loop is stopped.
class Lifecycle {
 public:
  // The protocol is done: hotwrap exits with `exit_code`.
  virtual void done(int exit_code) = 0;

 protected:
  ~Lifecycle() = default;
};

// What the composition root drives of a protocol that serves hotwrap's own stdio.
class Protocol {
 public:
  virtual ~Protocol() = default;
  // SIGTERM/SIGINT: take no new call; answer the running one, then done(). The shutdown grace
  // and the second signal are the composition root's.
  virtual void drain() = 0;
};

// Exit codes of the hot stdio formats.
inline constexpr int kExitStreamOk = 0;      // input ended between calls, every call answered
inline constexpr int kExitStreamBroken = 1;  // bad or truncated input, or stdin/stdout failed

// What every Fn format shares, built once at start-up.
struct FnContext {
  Loop& loop;
  CallStarter& calls;  // the Runner, or fakes in tests
  const Config& config;
  LogFrame logframe;
  std::vector<Header> fdk_headers;
};

// Fn http-stream: one HTTP exchange per connection accepted on the agent's unix socket.
Listener::Factory fn_stream_connections(const FnContext& fn);

// Fn's legacy hot formats over a byte stream (hotwrap's stdin/stdout, non-blocking): JSON
// objects (json) or HTTP/1.1 (http).
std::unique_ptr<Protocol> make_fn_json(const FnContext& fn, Lifecycle& life, int in_fd, int out_fd);
std::unique_ptr<Protocol> make_fn_http(const FnContext& fn, Lifecycle& life, int in_fd, int out_fd);

// Fn's legacy cold format: the command runs once on hotwrap's own stdio; FN_CALL_ID and
// FN_DEADLINE (RFC 3339, enforced when given) come from the container's environment. Signals
// are the command's: the composition root forwards them all.
std::unique_ptr<Protocol> make_fn_default(const FnContext& fn, Lifecycle& life, std::string call_id,
                                          std::optional<std::string> deadline);

}  // namespace hotwrap
