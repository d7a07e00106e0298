#include "transports/http_client.hpp"

#include <cstring>

#include "hotwrap/net.hpp"

namespace hotwrap {

HttpClient::HttpClient(Loop& loop, std::string host, uint16_t port, Handler& handler,
                       ResponseLimits limits)
    : loop_(loop),
      host_(std::move(host)),
      port_(port),
      handler_(handler),
      limits_(limits),
      reap_(loop, [this] { retired_.clear(); }),
      deferred_(loop, [this] { on_deferred(); }) {
  bool v6 = host_.find(':') != std::string::npos;
  host_header_ = (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

HttpClient::~HttpClient() {
  reset();
  retired_.clear();
}

void HttpClient::request(std::string_view method, std::string_view target,
                         std::span<const Header> headers, std::string body) {
  std::string bytes = begin(method, target, headers, static_cast<int64_t>(body.size()));
  bytes += body;
  body = std::string();
  // Kept for one retry only on a connection that idled between exchanges: a fresh connection
  // that fails has a reason worth reporting.
  retried_ = false;
  if (reused_) retry_bytes_ = bytes;
  send(bytes);
}

void HttpClient::begin_stream(std::string_view method, std::string_view target,
                              std::span<const Header> headers) {
  std::string head = begin(method, target, headers, -1);
  request_done_ = false;
  streaming_ = true;
  retried_ = true;  // a streamed body is not kept: it cannot be sent again
  send(head);
}

std::string HttpClient::begin(std::string_view method, std::string_view target,
                              std::span<const Header> headers, int64_t content_length) {
  std::vector<Header> all{{"Host", host_header_}};
  all.insert(all.end(), headers.begin(), headers.end());
  busy_ = true;
  response_begun_ = false;
  request_done_ = true;
  streaming_ = false;
  retry_bytes_.clear();
  ensure_connection();
  return request_head(method, target, all, content_length);
}

void HttpClient::stream(std::string_view bytes) {
  if (!streaming_ || bytes.empty()) return;
  std::string head = chunk_header(bytes.size());
  if (conn_ == Conn::Connecting) {
    unsent_ += head;
    unsent_ += bytes;
    unsent_ += "\r\n";
    return;
  }
  std::string_view pieces[] = {head, bytes, "\r\n"};
  if (writer_) writer_->write(pieces);
}

void HttpClient::end_stream(std::span<const Header> trailers) {
  if (!streaming_) return;
  streaming_ = false;
  request_done_ = true;
  send(chunk_trailer(trailers));
}

size_t HttpClient::queued() const {
  return unsent_.size() + (writer_ ? writer_->queued() : 0);
}

void HttpClient::pause_reading() {
  paused_ = true;
  if (reader_) reader_->stop();
}

void HttpClient::resume_reading() {
  if (!paused_) return;
  paused_ = false;
  // Outside the handler's callback: the stash is parsed on the next iteration.
  deferred_.start(std::chrono::microseconds(0));
}

void HttpClient::reset() {
  close();
  busy_ = false;
  streaming_ = false;
  request_done_ = true;
  paused_ = false;
  retry_bytes_.clear();
  deferred_failure_.clear();
  deferred_.stop();
}

void HttpClient::send(std::string_view bytes) {
  if (conn_ == Conn::Connecting || conn_ == Conn::Closed) {
    unsent_ += bytes;
  } else if (writer_) {
    writer_->write(bytes);
  }
}

void HttpClient::ensure_connection() {
  if (conn_ != Conn::Closed) {
    reused_ = conn_ == Conn::Open;
    return;
  }
  reused_ = false;
  unsent_.clear();
  stash_.clear();
  auto fd = connect_tcp(host_, port_);
  if (!fd) {
    deferred_failure_ = "cannot connect to " + host_header_ + ": " + fd.error().describe();
    deferred_.start(std::chrono::microseconds(0));
    return;
  }
  fd_ = std::move(*fd);
  conn_ = Conn::Connecting;
  parser_ = std::make_unique<ResponseParser>(limits_);
  connecting_ = std::make_unique<Watch>(loop_, fd_.get(), EV_WRITE, [this] { on_connectable(); });
  connecting_->start();
}

void HttpClient::on_connectable() {
  connecting_->stop();
  if (auto r = connect_result(fd_.get()); !r) {
    fail("cannot connect to " + host_header_ + ": " + r.error().describe());
    return;
  }
  conn_ = Conn::Open;
  reader_ = std::make_unique<FdReader>(
      loop_, fd_.get(), [this](std::string_view b) { on_input(b); },
      [this](int err) { on_input_end(err); });
  writer_ = std::make_unique<FdWriter>(
      loop_, fd_.get(), [this] { on_drained(); }, [this](int err) { on_write_error(err); });
  if (!paused_) reader_->start();
  std::string bytes = std::move(unsent_);
  unsent_.clear();
  if (!bytes.empty()) writer_->write(bytes);
}

void HttpClient::on_input(std::string_view bytes) {
  if (paused_) {
    stash_.append(bytes);
    return;
  }
  parse(bytes);
}

void HttpClient::parse(std::string_view bytes) {
  uint64_t gen = generation_;
  while (!bytes.empty()) {
    if (!busy_) {
      // Bytes nobody asked for: the connection's framing cannot be trusted any more.
      close();
      return;
    }
    MessageParser::Step step = parser_->feed(bytes);
    bytes.remove_prefix(step.consumed);
    if (step.head) {
      response_begun_ = true;
      retry_bytes_.clear();
      handler_.response_head(parser_->head());
      if (gen != generation_) return;
    }
    if (!parser_->body().empty()) {
      handler_.response_body(parser_->body());
      if (gen != generation_) return;
    }
    if (step.error) {
      fail("malformed response from " + host_header_ + ": " + parser_->error_reason());
      return;
    }
    if (step.end) {
      busy_ = false;
      streaming_ = false;
      // The request was cut short by the answer, or the server closes: no further exchange here.
      if (!parser_->keep_alive() || !request_done_ || !bytes.empty()) close_after_ = true;
      const ResponseHead& head = parser_->head();
      const std::vector<Header>& trailers = parser_->trailers();
      if (close_after_) close();  // the parser lives on among the retired until the next iteration
      handler_.response_end(head, trailers);
      return;
    }
    if (paused_) {
      stash_.assign(bytes);
      return;
    }
  }
}

void HttpClient::on_input_end(int err) {
  if (!busy_) {
    close();  // the server closed an idle keep-alive connection: the next request reconnects
    return;
  }
  MessageParser::Step step = parser_->finish();
  if (step.end) {
    busy_ = false;
    streaming_ = false;
    const ResponseHead& head = parser_->head();
    const std::vector<Header>& trailers = parser_->trailers();
    close();
    handler_.response_end(head, trailers);
    return;
  }
  if (!response_begun_ && retry()) return;
  fail(std::string("connection to ") + host_header_ + " " +
       (err != 0 ? std::string("failed: ") + std::strerror(err) : "closed by the server") +
       (response_begun_ ? " in the middle of a response" : " before its response"));
}

bool HttpClient::retry() {
  if (retried_ || retry_bytes_.empty()) return false;
  retried_ = true;
  std::string bytes = std::move(retry_bytes_);
  retry_bytes_.clear();
  close();
  ensure_connection();
  send(bytes);
  return true;
}

void HttpClient::on_drained() {
  if (busy_) handler_.request_drained();
}

void HttpClient::on_write_error(int err) {
  if (!busy_) {
    close();
    return;
  }
  // The server may have answered (413) and closed: its response, if any, is still to be read.
  if (reader_ && !reader_->ended()) {
    streaming_ = false;
    request_done_ = true;
    return;
  }
  if (!response_begun_ && retry()) return;
  fail("writing to " + host_header_ + " failed: " + std::strerror(err));
}

void HttpClient::on_deferred() {
  if (!deferred_failure_.empty()) {
    std::string why = std::move(deferred_failure_);
    deferred_failure_.clear();
    fail(why);
    return;
  }
  if (paused_ || !reader_) return;
  std::string rest = std::move(stash_);
  stash_.clear();
  uint64_t gen = generation_;
  if (!rest.empty()) parse(rest);
  if (gen == generation_ && !paused_ && reader_) reader_->start();
}

void HttpClient::fail(const std::string& why) {
  busy_ = false;
  streaming_ = false;
  request_done_ = true;
  close();
  handler_.failed(why);
}

void HttpClient::close() {
  ++generation_;
  if (connecting_) connecting_->stop();
  if (reader_) reader_->stop();
  // FdWriter has no stop: its watch goes with it, among the retired, and the descriptor after it
  // (closed first, a descriptor could be reused by the next connection while libevent still
  // watched its number).
  if (connecting_) retired_.emplace_back(std::move(connecting_));
  if (reader_) retired_.emplace_back(std::move(reader_));
  if (writer_) retired_.emplace_back(std::move(writer_));
  if (parser_) retired_.emplace_back(std::move(parser_));
  if (fd_) retired_.emplace_back(std::make_shared<UniqueFd>(std::move(fd_)));
  if (!retired_.empty()) reap_.start(std::chrono::microseconds(0));
  conn_ = Conn::Closed;
  paused_ = false;
  close_after_ = false;
  unsent_.clear();
  stash_.clear();
}

}  // namespace hotwrap
