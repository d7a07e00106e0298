// The funker contract (bfirsh/funker): a caller connects over TCP, writes its arguments (one JSON
// value, but any bytes reach the command), half-closes, and reads the answer to EOF. The bytes up
// to the half-close are the command's stdin; its stdout is the answer. Funker has no error
// channel: a failed call closes with no bytes, which Funker's clients read as None / an error.
#pragma once

#include <functional>
#include <string>

#include "hotwrap/config.hpp"
#include "hotwrap/reply.hpp"
#include "hotwrap/runner.hpp"
#include "transports/listener.hpp"

namespace hotwrap {

// How a funker call is answered: exit 0 → the output (200 in the log); the time limit → 504,
// shutdown → 503, any other failure → 500, all with no bytes. `json_error` (HOTWRAP_FUNKER_JSON)
// says why a successful call's output is refused, empty when it is accepted.
Verdict funker_verdict(const Outcome* outcome, const std::string& json_error);

// The contract's state across connections.
class FunkerService {
 public:
  FunkerService(CallStarter& calls, const Config& config) : calls_(calls), config_(config) {}
  FunkerService(const FunkerService&) = delete;
  FunkerService& operator=(const FunkerService&) = delete;

  // One call per accepted connection.
  Listener::Factory connections();
  // The exit code of the last call's command (HOTWRAP_FUNKER_ONESHOT exits with it).
  int last_exit_code() const { return last_exit_code_; }

 private:
  friend class FunkerConnection;
  CallStarter& calls_;
  const Config& config_;
  int last_exit_code_ = 0;
};

}  // namespace hotwrap
