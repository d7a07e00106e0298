// A wire contract decodes calls from one transport, runs them on the Runner and encodes their
// outcomes. Contracts never touch processes; the core never includes this header.
#pragma once

#include <expected>
#include <memory>
#include <optional>
#include <string>

#include "hotwrap/runner.hpp"

namespace hotwrap {

class Contract {
 public:
  virtual ~Contract() = default;
  // Sets up the transport. A failure is a start-up error: one line (what, why, how to fix).
  virtual std::expected<void, std::string> start() = 0;
  // A signal other than SIGCHLD reached hotwrap (SIGTERM/SIGINT: shut down).
  virtual void on_signal(int signo) = 0;
};

// Chooses the contract from the container's environment (FN_FORMAT, FN_LISTENER).
std::expected<std::unique_ptr<Contract>, std::string> select_contract(
    Runner& runner, const char* (*getenv_fn)(const char*));

// Fn http-stream: HTTP/1.1 on the unix socket named by FN_LISTENER.
std::unique_ptr<Contract> make_http_stream_contract(Runner& runner, std::string listener);

// Fn's legacy hot formats over hotwrap's stdin/stdout: JSON objects (json) or HTTP/1.1 (http).
std::unique_ptr<Contract> make_json_contract(Runner& runner);
std::unique_ptr<Contract> make_http_contract(Runner& runner);

// Fn's legacy cold format: the command runs once on hotwrap's own stdio; FN_CALL_ID and
// FN_DEADLINE (RFC 3339, enforced when given) come from the container's environment.
std::unique_ptr<Contract> make_default_contract(Runner& runner, std::string call_id,
                                                std::optional<std::string> deadline);

}  // namespace hotwrap
