// The HTTP/1.1 side of Fn calls, shared by the two contracts that speak HTTP: http-stream (one
// exchange per accepted socket connection) and the legacy http format (one exchange on hotwrap's
// stdin and stdout). Requests are taken one at a time; each runs as a call; the answer follows the
// command's fate (verdict.hpp). stdout is held up to HOTWRAP_BUFFER_BYTES so the status can follow
// the exit code; past it the response commits to 200 and streams chunked.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/http.hpp"
#include "hotwrap/runner.hpp"
#include "hotwrap/stream.hpp"

namespace hotwrap {

// What the contract makes of one request head.
struct Route {
  // Non-zero: answer with this status and `message` (text) without running anything; the body is
  // read and dropped. `headers` are added (e.g. Allow for a 405).
  int reject = 0;
  std::string message;
  std::vector<Header> headers;
  // For a call (reject == 0): the call to start; the contract has filled runner.env() already.
  CallRequest request;
  bool trigger = false;  // Fn-Intent: httprequest: the status travels inside a 200
};

class HttpExchange final : private CallHandler {
 public:
  enum class Transport {
    // A socket connection (http-stream). EOF means the caller hung up: a running call is killed.
    // `Connection: close` is honoured.
    Connection,
    // A byte stream with no connection around it (stdin/stdout). EOF means no more requests: the
    // ones already received are still run and answered, then the exchange ends cleanly.
    // `Connection: close` and HTTP/1.0 do not end it.
    Stream,
  };

  // How an exchange ended.
  enum class End {
    Clean,        // EOF between requests, Connection: close, or the owner draining
    BadInput,     // a malformed or truncated request (already logged, with its byte offset)
    WriteFailed,  // the output went away (errno given)
    ReadFailed,   // reading the input failed (errno given)
    // Stream: the command failed after its response began streaming; the unfinished response can
    // only be signalled by ending the output (already logged).
    ResponseAbandoned,
  };

  class Owner {
   public:
    // A request head arrived. For a call the owner fills runner.env() with the call's names.
    virtual Route route(const RequestHead& head) = 0;
    // The exchange is over: nothing more will be read or written. Called once, from inside the
    // exchange's callbacks: the owner destroys it later, not here.
    virtual void exchange_ended(HttpExchange& exchange, End end, int err) = 0;
    // True when no new request should be served: the exchange ends after the current response.
    virtual bool draining() const = 0;

   protected:
    ~Owner() = default;
  };

  // Reads requests from `in_fd`, writes responses to `out_fd` (the same fd for a socket). Neither
  // is owned; both must be non-blocking (or, for input, a file epoll cannot watch).
  HttpExchange(Runner& runner, Owner& owner, int in_fd, int out_fd, Transport transport);
  ~HttpExchange();  // kills a call still running
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  // Ends the exchange (once queued output is written) unless a request is in progress.
  void end_if_idle();
  bool ended() const { return ended_; }
  bool idle() const { return !in_request_ && !parser_.in_message(); }

 private:
  void on_input(std::string_view bytes);
  void on_input_end(int err);
  void parse(std::string_view in);
  void begin_request();
  void end_of_request();
  void call_output(std::string_view bytes) override;
  void call_input_ready() override;
  void call_finished(const Outcome& outcome) override;
  void start_streaming();
  void answer(const Outcome& outcome);
  void send_response(int status, const std::vector<Header>& headers, std::string_view body);
  void send_text(int status, std::string_view message, std::vector<Header> extra, bool then_end);
  void response_done();
  void next_request();
  void check_input_exhausted();
  void truncated();
  void on_drained();
  void end_after_flush(End end);
  void end(End end, int err = 0);

  Runner& runner_;
  Owner& owner_;
  const Config& cfg_;
  const Transport transport_;
  const std::vector<Header> fdk_headers_;
  FdReader reader_;
  FdWriter writer_;
  RequestParser parser_;
  Timer next_;  // starts the next pipelined request outside the previous call's callbacks
  std::unique_ptr<Call> call_;
  std::string pending_;  // input not parsed yet: the next requests, or body the command lags on
  std::string body_;     // stdout held until the status is known
  Route route_;          // of the request in progress
  std::optional<Outcome> early_;  // the command ended before the request body did
  End end_after_flush_ = End::Clean;
  bool in_request_ = false;  // a request's head has arrived and its response is not sent yet
  bool request_ended_ = false;
  bool streaming_ = false;
  bool output_paused_ = false;
  bool ending_after_flush_ = false;
  bool input_ended_ = false;  // Stream: EOF seen; what is in pending_ is all there will be
  bool ended_ = false;
};

}  // namespace hotwrap
