// One HTTP/1.1 conversation on a connection or a byte stream, with no platform policy in it:
// requests are taken one at a time; the owner (a protocol) routes each head to a call or a
// refusal; each call runs on a CallStarter and is answered through the one reply path (reply.hpp)
// with the status policy the route gave. Used by every protocol that speaks HTTP.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/config.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/reply.hpp"
#include "hotwrap/runner.hpp"
#include "hotwrap/stream.hpp"

namespace hotwrap {

// What the protocol makes of one request head.
struct Route {
  // Non-zero: answer with this status and `message` (text) without running anything; the body is
  // read and dropped. `headers` are added (e.g. Allow for a 405).
  int reject = 0;
  std::string message;
  std::vector<Header> headers;
  // The answer is `message` exactly (a health check's "OK", a metrics page), with the
  // Content-Type in `headers` if there is one, not hotwrap's "hotwrap: <message>" text.
  bool verbatim = false;
  // For a call (reject == 0): the call to start, its environment included, and how its answer is
  // decided.
  CallRequest request;
  StatusPolicy policy;
};

class HttpExchange final : private CallHandler, private ReplyFraming {
 public:
  enum class Transport {
    // A socket connection. EOF, or the peer hanging up while hotwrap is not reading, means the
    // caller is gone: a running call is killed. `Connection: close` is honoured.
    Connection,
    // A byte stream with no connection around it (stdin/stdout). EOF means no more requests: the
    // ones already received are still run and answered, then the exchange ends cleanly.
    // `Connection: close` and HTTP/1.0 do not end it.
    Stream,
  };

  // How an exchange ended.
  enum class End {
    Clean,        // EOF between requests, Connection: close, the caller gone, or the owner draining
    BadInput,     // a malformed or truncated request (already logged, with its byte offset)
    WriteFailed,  // the output went away (errno given)
    ReadFailed,   // reading the input failed (errno given)
    // Stream: the command failed after its response began streaming; the unfinished response can
    // only be signalled by ending the output (already logged).
    ResponseAbandoned,
  };

  class Owner {
   public:
    // A request head arrived.
    virtual Route route(const RequestHead& head) = 0;
    // Headers every response carries, refusals included (e.g. Fn-Fdk-Version).
    virtual const std::vector<Header>& response_headers() const = 0;
    // The exchange is over: nothing more will be read or written. Called once, from inside the
    // exchange's callbacks: the owner destroys it later, not here.
    virtual void exchange_ended(HttpExchange& exchange, End end, int err) = 0;
    // True when no new request should be served: the exchange ends after the current response.
    virtual bool draining() const = 0;
    // A response has been sent in full with `status` (a call's answer or a refusal); not called
    // for one the exchange ended in the middle of.
    virtual void answered(int /*status*/) {}

   protected:
    ~Owner() = default;
  };

  // Reads requests from `in_fd`, writes responses to `out_fd` (the same fd for a socket). Neither
  // is owned; both must be non-blocking (or, for input, a file epoll cannot watch).
  HttpExchange(Loop& loop, CallStarter& calls, const Config& config, Owner& owner, int in_fd,
               int out_fd, Transport transport);
  ~HttpExchange();  // kills a call still running
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  // Ends the exchange (once queued output is written) unless a request is in progress.
  void end_if_idle();
  bool ended() const { return phase_ == Phase::Ended; }
  // No request in progress: between requests, or answered with the next one not begun.
  bool idle() const {
    return phase_ == Phase::Answered || (phase_ == Phase::Idle && !parser_.in_message());
  }

 private:
  // Where the conversation is. One request at a time:
  //   Idle ─head─▶ Receiving (a call runs, its body arrives)  ─body end─▶ Running ─call end─▶
  //   Answering (the answer may wait for the call's log lines) ─sent─▶ Answered ─next
  //   iteration─▶ Idle; a refused request, or a call that ended before its body did, reads the
  //   rest of the body in Discarding and is answered at its end. Closing: queued output is
  //   written, then Ended.
  enum class Phase { Idle, Receiving, Discarding, Running, Answering, Answered, Closing, Ended };
  // What Discarding does once the body has been read.
  enum class AfterBody { Refuse, Answer, Next };

  void on_input(std::string_view bytes);
  void on_input_end(int err);
  void on_hangup();
  void parse(std::string_view in);
  void begin_request();
  void end_of_request();
  void call_output(std::string_view bytes) override;
  void call_input_ready() override;
  void call_finished(const Outcome& outcome) override;
  void answer(const Outcome& outcome);
  void send_whole(const Verdict& verdict, std::string_view body) override;
  void send_head(const Verdict& verdict, std::string_view first) override;
  void send_more(std::string_view bytes) override;
  void send_end(const Verdict& verdict) override;
  size_t queued() const override { return writer_.queued(); }
  void reply_sent() override;
  void send_text(int status, std::string_view message, std::vector<Header> extra, bool then_end);
  void response_done();
  void resume_input();
  void pause_input();
  void check_input_exhausted();
  void truncated();
  void on_drained();
  void end_after_flush(End end);
  void end(End end, int err = 0);

  CallStarter& calls_;
  const Config& cfg_;
  Owner& owner_;
  const Transport transport_;
  FdReader reader_;
  FdWriter writer_;
  // While the input is not read (backpressure), a caller hanging up is still seen: a call whose
  // command never reads its body must not outlive its caller.
  Watch hangup_;
  RequestParser parser_;
  Reply reply_;
  Timer next_;  // starts the next pipelined request outside the previous call's callbacks
  std::unique_ptr<CallControl> call_;
  std::string pending_;  // input not parsed yet: the next requests, or body the command lags on
  Route route_;          // of the request in progress
  Phase phase_ = Phase::Idle;
  int status_ = 0;          // of the response being sent
  bool head_only_ = false;  // the request is a HEAD: its response has no body
  AfterBody after_body_ = AfterBody::Next;
  Outcome early_;  // Discarding with AfterBody::Answer: how the call ended
  End end_after_flush_ = End::Clean;
  bool input_eof_ = false;  // Stream: EOF seen; what is in pending_ is all there will be
};

}  // namespace hotwrap
