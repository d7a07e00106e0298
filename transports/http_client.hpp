// One keep-alive HTTP/1.1 client connection on the loop: requests go out one at a time (a head
// with a whole body, or a chunked body streamed with trailers, with backpressure), responses are
// parsed with ResponseParser and handed over as they arrive (head, body pieces, end). The
// connection is made on the first request and made again after the server closes it. There is no
// timeout: a request may wait for its response as long as the server likes (a long poll).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/fd.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/stream.hpp"

namespace hotwrap {

class HttpClient {
 public:
  // Called from the loop, one exchange at a time. A handler may start the next request, or
  // reset() the client, inside response_end and failed (nothing of the client runs after them).
  class Handler {
   public:
    // The final response's head (1xx are skipped).
    virtual void response_head(const ResponseHead& head) = 0;
    // Pieces of its body, as they arrive (valid during the call only).
    virtual void response_body(std::span<const std::string_view> pieces) = 0;
    // The response is complete. It may come before the request has been sent in full (a server
    // refusing a body early): what is still written of the request is then dropped.
    virtual void response_end(const ResponseHead& head, const std::vector<Header>& trailers) = 0;
    // The bytes queued for the server have all been written (after queued() was non-zero).
    virtual void request_drained() = 0;
    // The exchange failed (cannot connect, connection lost, malformed response); `why` is one
    // phrase for a log line. The connection is closed; the next request opens a new one.
    virtual void failed(const std::string& why) = 0;

   protected:
    ~Handler() = default;
  };

  // `host` is numeric or localhost (hotwrap/net.hpp); `host_header` is sent as Host.
  HttpClient(Loop& loop, std::string host, uint16_t port, Handler& handler,
             ResponseLimits limits = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // A request with a whole body (Content-Length; none for a GET with an empty body). A request
  // with a whole body that fails before any byte of its response came, on a connection that had
  // served before (the server may have closed it while it idled), is sent once more on a new one.
  void request(std::string_view method, std::string_view target, std::span<const Header> headers,
               std::string body = {});
  // A request whose body follows in pieces, chunked: stream() each piece, then end_stream() with
  // the trailers (announced in a Trailer header among `headers`).
  void begin_stream(std::string_view method, std::string_view target,
                    std::span<const Header> headers);
  void stream(std::string_view bytes);
  void end_stream(std::span<const Header> trailers = {});

  // Bytes written but not yet taken by the server: the measure of backpressure.
  size_t queued() const;
  // Stop/start reading the response (the body's consumer is congested).
  void pause_reading();
  void resume_reading();
  // Closes the connection and forgets the exchange in progress, with no callback.
  void reset();
  // A request was started and its response has not ended (nor failed).
  bool busy() const { return busy_; }

 private:
  enum class Conn { Closed, Connecting, Open };
  // A new exchange: its head (with Host), the connection made if there is none.
  std::string begin(std::string_view method, std::string_view target,
                    std::span<const Header> headers, int64_t content_length);
  void send(std::string_view bytes);
  void ensure_connection();
  void on_connectable();
  void on_input(std::string_view bytes);
  void on_input_end(int err);
  void on_drained();
  void on_write_error(int err);
  void parse(std::string_view bytes);
  void on_deferred();
  void fail(const std::string& why);
  void close();
  bool retry();

  Loop& loop_;
  std::string host_;
  uint16_t port_;
  std::string host_header_;
  Handler& handler_;
  ResponseLimits limits_;
  UniqueFd fd_;
  Conn conn_ = Conn::Closed;
  // Replaced with each connection; the old ones are destroyed on the next loop iteration, since a
  // connection may close inside their own callbacks.
  std::unique_ptr<Watch> connecting_;
  std::unique_ptr<FdReader> reader_;
  std::unique_ptr<FdWriter> writer_;
  std::unique_ptr<ResponseParser> parser_;
  std::vector<std::shared_ptr<void>> retired_;
  Timer reap_;      // destroys retired_
  Timer deferred_;  // reports a failure found inside request(), or resumes reading
  std::string deferred_failure_;
  std::string stash_;        // response bytes read while paused, not parsed yet
  uint64_t generation_ = 0;  // bumped by every close(): callbacks check it after the handler
  std::string unsent_;       // written while the connection was being made
  std::string retry_bytes_;  // a whole request, kept until its response begins
  bool reused_ = false;      // the connection served an exchange before this one
  bool busy_ = false;
  bool response_begun_ = false;
  bool request_done_ = true;  // the request's last byte was handed to the writer
  bool close_after_ = false;  // the connection cannot carry another exchange
  bool paused_ = false;
  bool retried_ = false;
  bool streaming_ = false;  // begin_stream() until end_stream() or the exchange's end
};

}  // namespace hotwrap
