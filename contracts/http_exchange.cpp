#include "contracts/http_exchange.hpp"

#include <cstring>

#include "contracts/verdict.hpp"
#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {

using std::chrono::microseconds;

// Queued response bytes above which the command's stdout is no longer read (backpressure).
constexpr size_t kOutputHighWater = 256 * 1024;
// Pipelined bytes held for the next request while a call runs; past it the input is not read.
constexpr size_t kPendingLimit = 64 * 1024;

RequestLimits limits_from(const Config& c) {
  return {c.max_url_bytes, c.max_header_bytes, c.max_headers, c.max_body_bytes};
}

}  // namespace

HttpExchange::HttpExchange(Runner& runner, Owner& owner, int in_fd, int out_fd, Transport transport)
    : runner_(runner),
      owner_(owner),
      cfg_(runner.config()),
      transport_(transport),
      fdk_headers_(fdk_headers(cfg_)),
      reader_(
          runner.loop(), in_fd, [this](std::string_view b) { on_input(b); },
          [this](int err) { on_input_end(err); }),
      writer_(
          runner.loop(), out_fd, [this] { on_drained(); },
          [this](int err) {
            // The reader of the responses is gone: whatever it asked for is of no use any more.
            end(End::WriteFailed, err);
          }),
      parser_(limits_from(cfg_)),
      next_(runner.loop(), [this] { next_request(); }) {
  if (transport_ == Transport::Stream) parser_.keep_parsing_after_close();
  reader_.start();
}

HttpExchange::~HttpExchange() = default;  // call_ goes first: kills a call still running

void HttpExchange::end_if_idle() {
  // A response may still be queued for a slow reader: it goes out first.
  if (idle()) end_after_flush(End::Clean);
}

void HttpExchange::end(End how, int err) {
  if (ended_) return;
  ended_ = true;
  reader_.stop();
  next_.stop();
  owner_.exchange_ended(*this, how, err);
}

void HttpExchange::end_after_flush(End how) {
  ending_after_flush_ = true;
  end_after_flush_ = how;
  reader_.stop();
  next_.stop();
  if (writer_.queued() == 0) end(how);
}

void HttpExchange::on_input(std::string_view bytes) {
  if ((in_request_ && request_ended_) || next_.active() || !pending_.empty()) {
    // Pipelined: the next request waits until this one is answered (one call at a time), and
    // behind whatever arrived before it.
    pending_.append(bytes);
    if (pending_.size() >= kPendingLimit) reader_.stop();
    return;
  }
  parse(bytes);
}

void HttpExchange::on_input_end(int err) {
  if (transport_ == Transport::Connection) {
    if (in_request_ && call_) {
      log(Level::Info, call_->id(), "caller closed the connection mid-call%s%s",
          err != 0 ? ": " : "", err != 0 ? std::strerror(err) : "");
    } else if (parser_.in_message() && !parser_.finish()) {
      log(Level::Info, {}, "connection closed mid-request: %s", parser_.error_reason().c_str());
    }
    end(End::Clean);
    return;
  }
  if (err != 0) {
    end(End::ReadFailed, err);
    return;
  }
  input_ended_ = true;
  check_input_exhausted();
}

void HttpExchange::check_input_exhausted() {
  // Stream only: after EOF, what pending_ holds is all the input there will ever be.
  if (!input_ended_ || ended_ || ending_after_flush_) return;
  if (in_request_ && request_ended_) return;  // being answered; next_request() looks again
  if (next_.active()) return;                 // next_request() is due and looks again
  if (!pending_.empty()) return;  // body the command lags on; call_input_ready() looks again
  if (in_request_ || parser_.in_message()) {
    truncated();
    return;
  }
  end_after_flush(End::Clean);
}

void HttpExchange::truncated() {
  parser_.finish();  // records where
  log(Level::Error, call_ ? call_->id() : std::string_view(),
      "the input ended in the middle of a request, at byte %llu; stopping",
      static_cast<unsigned long long>(parser_.error_offset()));
  call_.reset();  // half a body is no call: the command is killed
  end(End::BadInput);
}

void HttpExchange::parse(std::string_view in) {
  while (!in.empty() && !ended_) {
    RequestParser::Step step = parser_.feed(in);
    if (step.error) {
      int status = status_for(parser_.error());
      auto offset = static_cast<unsigned long long>(parser_.error_offset());
      if (transport_ == Transport::Stream) {
        // A byte stream has no request boundary to resume from after garbage.
        log(Level::Error, {}, "bad request (%d) at byte %llu of the input: %s; stopping", status,
            offset, parser_.error_reason().c_str());
      } else {
        log(Level::Warn, {}, "bad request (%d) at byte %llu: %s", status, offset,
            parser_.error_reason().c_str());
      }
      if (call_) {
        // The body broke mid-call (malformed, or past HOTWRAP_MAX_BODY_BYTES): the command is
        // killed; its output is of no use now.
        call_.reset();
        body_.clear();
      }
      if (streaming_) {
        // A 200 is already on the wire: there is no status left to tell the caller why.
        end(End::BadInput);
        return;
      }
      // Nothing of this request's response has been written yet: the caller learns why.
      send_text(status, parser_.error_reason(), {}, true);
      return;
    }
    if (step.head) begin_request();
    if (call_) {
      call_->feed(parser_.body());
    }
    in.remove_prefix(step.consumed);
    if (step.end) {
      pending_.assign(in);
      end_of_request();
      return;
    }
    if (call_ && call_->input_congested()) {
      // The command is behind: read no more body until it catches up.
      reader_.stop();
      pending_.assign(in);
      return;
    }
  }
}

void HttpExchange::begin_request() {
  in_request_ = true;
  request_ended_ = false;
  early_.reset();
  body_.clear();
  streaming_ = false;
  output_paused_ = false;
  const RequestHead& head = parser_.head();
  route_ = owner_.route(head);
  if (route_.reject != 0) return;
  // curl sends "Expect: 100-continue" for larger bodies and then waits a second for permission
  // before sending them. (The Fn agent never does; a rejected request gets its final status.)
  if (const std::string* expect = head.find("Expect");
      expect != nullptr && head.http11 && iequals(*expect, "100-continue")) {
    writer_.write("HTTP/1.1 100 Continue\r\n\r\n");
  }
  call_ = runner_.start(*this, std::move(route_.request));
}

void HttpExchange::end_of_request() {
  request_ended_ = true;
  if (call_) {
    call_->end_input();
  } else if (early_) {
    Outcome o = *early_;
    early_.reset();
    answer(o);
  } else if (route_.reject != 0) {
    send_text(route_.reject, route_.message, std::move(route_.headers), false);
  }
  // A call keeps reading so a caller that hangs up is noticed; the bytes wait in pending_.
  if (!ended_ && call_ && pending_.size() < kPendingLimit) reader_.start();
}

void HttpExchange::call_output(std::string_view bytes) {
  if (streaming_) {
    std::string head = chunk_header(bytes.size());
    std::string_view pieces[] = {head, bytes, "\r\n"};
    writer_.write(pieces);
  } else {
    body_.append(bytes);
    if (body_.size() > cfg_.buffer_bytes) start_streaming();
  }
  if (writer_.queued() > kOutputHighWater && call_) {
    output_paused_ = true;
    call_->pause_output();
  }
}

void HttpExchange::start_streaming() {
  // Past the buffer the status can no longer wait for the exit code: commit to 200 and stream.
  streaming_ = true;
  std::vector<Header> headers = fdk_headers_;
  if (route_.trigger) headers.push_back({"Fn-Http-Status", "200"});
  headers.push_back({"Content-Type", cfg_.content_type});
  std::string head = response_head(200, headers, -1);
  std::string chunk = chunk_header(body_.size());
  std::string_view pieces[] = {head, chunk, body_, "\r\n"};
  writer_.write(pieces);
  body_.clear();
  body_.shrink_to_fit();  // the buffer may have been large; streaming needs none of it
}

void HttpExchange::call_input_ready() {
  if (ended_ || request_ended_) return;
  // Resume with what was left over when the command fell behind, then the input.
  std::string rest = std::move(pending_);
  pending_.clear();
  reader_.start();
  parse(rest);
  check_input_exhausted();
}

void HttpExchange::call_finished(const Outcome& outcome) {
  std::unique_ptr<Call> done = std::move(call_);  // destroyed on return: the call has ended
  const std::string& id = done->id();
  if (!outcome.ok()) log(Level::Warn, id, "command %s", outcome.describe().c_str());
  if (ended_) return;
  if (streaming_) {
    if (outcome.ok()) {
      writer_.write("0\r\n\r\n");
      response_done();
    } else if (transport_ == Transport::Connection) {
      // The 200 is already on the wire; the only honest signal left is a body that never ends.
      log(Level::Error, id,
          "command failed after the response began streaming; closing the connection without "
          "the final chunk");
      end(End::Clean);
    } else {
      // On a stream the only way to leave a response unfinished is to end the stream.
      log(Level::Error, id,
          "command failed after the response began streaming; stopping without the final chunk");
      end_after_flush(End::ResponseAbandoned);
    }
    return;
  }
  if (!request_ended_) {
    // The command ended before the request body did. The rest of the body is read and dropped
    // before answering, so the exchange stays usable.
    early_ = outcome;
    std::string rest = std::move(pending_);
    pending_.clear();
    reader_.start();
    parse(rest);
    check_input_exhausted();
    return;
  }
  answer(outcome);
}

void HttpExchange::answer(const Outcome& outcome) {
  Verdict v = verdict_for(outcome, route_.trigger);
  std::vector<Header> headers = fdk_headers_;
  if (v.fn_http_status != nullptr) headers.push_back({"Fn-Http-Status", v.fn_http_status});
  if (v.output_is_body) {
    headers.push_back({"Content-Type", cfg_.content_type});
    send_response(v.status, headers, body_);
  } else {
    headers.push_back({"Content-Type", kTextPlain});
    send_response(v.status, headers, v.message);
  }
  body_.clear();
  if (body_.capacity() > (64u << 10)) body_.shrink_to_fit();
  response_done();
}

void HttpExchange::send_response(int status, const std::vector<Header>& headers,
                                 std::string_view body) {
  std::string head = response_head(status, headers, static_cast<int64_t>(body.size()));
  std::string_view pieces[] = {head, body};
  writer_.write(pieces);
}

void HttpExchange::send_text(int status, std::string_view message, std::vector<Header> extra,
                             bool then_end) {
  std::vector<Header> headers = fdk_headers_;
  for (Header& h : extra) headers.push_back(std::move(h));
  headers.push_back({"Content-Type", kTextPlain});
  if (then_end) headers.push_back({"Connection", "close"});
  std::string body = "hotwrap: " + std::string(message) + "\n";
  send_response(status, headers, body);
  if (then_end) {
    end_after_flush(End::BadInput);
    return;
  }
  response_done();
}

void HttpExchange::response_done() {
  in_request_ = false;
  request_ended_ = false;
  route_ = Route{};
  bool closing = transport_ == Transport::Connection && !parser_.keep_alive();
  if (closing || owner_.draining()) {
    end_after_flush(End::Clean);
    return;
  }
  next_.start(microseconds(0));
}

void HttpExchange::next_request() {
  if (ended_) return;
  std::string rest = std::move(pending_);
  pending_.clear();
  reader_.start();
  parse(rest);
  check_input_exhausted();
}

void HttpExchange::on_drained() {
  if (ending_after_flush_) {
    end(end_after_flush_);
    return;
  }
  if (output_paused_ && call_) {
    output_paused_ = false;
    call_->resume_output();
  }
}

}  // namespace hotwrap
