// AWS Lambda's Runtime API (custom runtimes, container images): hotwrap pulls events with a long
// poll of GET /2018-06-01/runtime/invocation/next, runs the command once per event with the
// event on stdin, and posts its stdout to .../invocation/{id}/response, or an error object to
// .../invocation/{id}/error when it fails. Answers over the 6 MB buffered limit (or all of them
// with HOTWRAP_LAMBDA_STREAM=1) stream; API Gateway and function-URL events reach the command as
// HTTP requests (protocols/lambda_event.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hotwrap/config.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/runner.hpp"
#include "protocols/protocol.hpp"

namespace hotwrap {

struct LambdaOptions {
  std::string host;  // AWS_LAMBDA_RUNTIME_API, parsed
  uint16_t port = 0;
  size_t concurrency = 1;  // AWS_LAMBDA_MAX_CONCURRENCY: that many /next loops at once
};

class LambdaSlot;

// The contract: `concurrency` loops of /next → call → /response or /error.
class LambdaRuntime final : public Protocol {
 public:
  LambdaRuntime(Loop& loop, CallStarter& calls, const Config& config, Lifecycle& life,
                LambdaOptions options);
  ~LambdaRuntime() override;
  LambdaRuntime(const LambdaRuntime&) = delete;
  LambdaRuntime& operator=(const LambdaRuntime&) = delete;

  // Starts polling.
  void start();
  // The command cannot be run at all: posts /runtime/init/error with `message`, then done
  // (`exit_code`) once the Runtime API has answered (or at once if it cannot be reached).
  void init_error(const std::string& message, int exit_code);
  // SIGTERM: no new event is taken; the running calls are answered, then done(0).
  void drain() override;

 private:
  friend class LambdaSlot;
  void slot_stopped();
  // A slot met a state the Runtime API calls non-recoverable: hotwrap exits.
  void fatal();

  Loop& loop_;
  CallStarter& calls_;
  const Config& config_;
  Lifecycle& life_;
  LambdaOptions options_;
  std::vector<std::unique_ptr<LambdaSlot>> slots_;
  bool draining_ = false;
  bool done_ = false;
};

}  // namespace hotwrap
