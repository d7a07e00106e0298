#include "hotwrap/http_exchange.hpp"

#include <cstring>

#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {

using std::chrono::microseconds;

// Pipelined bytes held for the next request while a call runs; past it the input is not read.
constexpr size_t kPendingLimit = 64 * 1024;

RequestLimits limits_from(const Config& c) {
  return {c.max_url_bytes, c.max_header_bytes, c.max_headers, c.max_body_bytes};
}

// The parser's reason, with the setting behind a limit and its value, so that the caller and
// the log both say what to change: "... than the limit (HOTWRAP_MAX_HEADERS=200)".
std::string refusal_reason(const RequestParser& p, const Config& c) {
  std::string r = p.error_reason();
  auto with = [&](const char* name, uint64_t v) {
    r += " (" + std::string(name) + "=" + std::to_string(v) + ")";
  };
  switch (p.error()) {
    case RequestError::UrlTooLong: with("HOTWRAP_MAX_URL_BYTES", c.max_url_bytes); break;
    case RequestError::BodyTooLarge: with("HOTWRAP_MAX_BODY_BYTES", c.max_body_bytes); break;
    case RequestError::HeadersTooLarge:
      if (r.starts_with("more ")) {
        with("HOTWRAP_MAX_HEADERS", c.max_headers);
      } else {
        with("HOTWRAP_MAX_HEADER_BYTES", c.max_header_bytes);
      }
      break;
    default: break;
  }
  return r;
}

}  // namespace

HttpExchange::HttpExchange(Loop& loop, CallStarter& calls, const Config& config, Owner& owner,
                           int in_fd, int out_fd, Transport transport)
    : calls_(calls),
      cfg_(config),
      owner_(owner),
      transport_(transport),
      reader_(
          loop, in_fd, [this](std::string_view b) { on_input(b); },
          [this](int err) { on_input_end(err); }),
      writer_(
          loop, out_fd, [this] { on_drained(); },
          [this](int err) {
            // The reader of the responses is gone: whatever it asked for is of no use any more.
            end(End::WriteFailed, err);
          }),
      hangup_(loop, in_fd, EV_CLOSED, [this] { on_hangup(); }),
      parser_(limits_from(config)),
      reply_(loop, *this, config),
      next_(loop, [this] {
        if (phase_ != Phase::Answered) return;
        phase_ = Phase::Idle;
        std::string rest = std::move(pending_);
        pending_.clear();
        resume_input();
        parse(rest);
        check_input_exhausted();
      }) {
  if (transport_ == Transport::Stream) parser_.keep_parsing_after_close();
  reader_.start();
}

HttpExchange::~HttpExchange() = default;  // call_ goes first: kills a call still running

void HttpExchange::end_if_idle() {
  // A response may still be queued for a slow reader: it goes out first.
  if (idle()) end_after_flush(End::Clean);
}

void HttpExchange::end(End how, int err) {
  if (phase_ == Phase::Ended) return;
  phase_ = Phase::Ended;
  reader_.stop();
  hangup_.stop();
  next_.stop();
  owner_.exchange_ended(*this, how, err);
}

void HttpExchange::end_after_flush(End how) {
  phase_ = Phase::Closing;
  end_after_flush_ = how;
  reader_.stop();
  hangup_.stop();
  next_.stop();
  if (writer_.queued() == 0) end(how);
}

void HttpExchange::pause_input() {
  reader_.stop();
  if (transport_ == Transport::Connection) hangup_.start();
}

void HttpExchange::resume_input() {
  hangup_.stop();
  reader_.start();
}

void HttpExchange::on_input(std::string_view bytes) {
  if (phase_ == Phase::Closing || phase_ == Phase::Ended) return;
  if (phase_ == Phase::Running || phase_ == Phase::Answering || phase_ == Phase::Answered ||
      !pending_.empty()) {
    // Pipelined: the next request waits until this one is answered (one call at a time), and
    // behind whatever arrived before it.
    pending_.append(bytes);
    if (pending_.size() >= kPendingLimit) pause_input();
    return;
  }
  parse(bytes);
}

void HttpExchange::on_input_end(int err) {
  if (transport_ == Transport::Connection) {
    if (call_) {
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
  input_eof_ = true;
  check_input_exhausted();
}

void HttpExchange::on_hangup() {
  // Seen only while the input is not read: the caller is gone with its call still running.
  if (call_) log(Level::Info, call_->id(), "caller hung up mid-call");
  end(End::Clean);
}

void HttpExchange::check_input_exhausted() {
  // Stream only: after EOF, what pending_ holds is all the input there will ever be.
  if (!input_eof_) return;
  switch (phase_) {
    case Phase::Running:
    case Phase::Answering:
    case Phase::Answered:  // being answered; the next request looks again
    case Phase::Closing:
    case Phase::Ended: return;
    default: break;
  }
  if (!pending_.empty()) return;  // body the command lags on; call_input_ready() looks again
  if (phase_ != Phase::Idle || parser_.in_message()) {
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
  reply_.abandon();
  end(End::BadInput);
}

void HttpExchange::parse(std::string_view in) {
  while (!in.empty() &&
         (phase_ == Phase::Idle || phase_ == Phase::Receiving || phase_ == Phase::Discarding)) {
    RequestParser::Step step = parser_.feed(in);
    if (step.error) {
      int status = status_for(parser_.error());
      auto offset = static_cast<unsigned long long>(parser_.error_offset());
      std::string reason = refusal_reason(parser_, cfg_);
      if (transport_ == Transport::Stream) {
        // A byte stream has no request boundary to resume from after garbage.
        log(Level::Error, {}, "bad request (%d) at byte %llu of the input: %s; stopping", status,
            offset, reason.c_str());
      } else {
        log(Level::Warn, {}, "bad request (%d) at byte %llu: %s", status, offset, reason.c_str());
      }
      // The body broke mid-call (malformed, or past HOTWRAP_MAX_BODY_BYTES): the command is
      // killed; its output is of no use now.
      call_.reset();
      bool streamed = reply_.streaming();
      reply_.abandon();
      if (streamed) {
        // A 200 is already on the wire: there is no status left to tell the caller why.
        end(End::BadInput);
        return;
      }
      // Nothing of this request's response has been written yet: the caller learns why.
      send_text(status, reason, {}, true);
      return;
    }
    if (step.head) begin_request();
    if (call_) call_->feed(parser_.body());
    in.remove_prefix(step.consumed);
    if (step.end) {
      pending_.assign(in);
      end_of_request();
      return;
    }
    if (call_ && call_->input_congested()) {
      // The command is behind: read no more body until it catches up.
      pause_input();
      pending_.assign(in);
      return;
    }
  }
}

void HttpExchange::begin_request() {
  const RequestHead& head = parser_.head();
  // A response to HEAD has the headers GET's would have and no body (RFC 9110 §9.3.2).
  head_only_ = head.method == "HEAD";
  route_ = owner_.route(head);
  if (route_.reject != 0) {
    phase_ = Phase::Discarding;
    after_body_ = AfterBody::Refuse;
    return;
  }
  phase_ = Phase::Receiving;
  // curl sends "Expect: 100-continue" for larger bodies and then waits a second for permission
  // before sending them. (The Fn agent never does; a rejected request gets its final status.)
  if (const std::string* expect = head.find("Expect");
      expect != nullptr && head.http11 && iequals(*expect, "100-continue")) {
    writer_.write("HTTP/1.1 100 Continue\r\n\r\n");
  }
  if (!cfg_.capture_dir.empty()) {
    // What the capture stores of the request; nobody else reads it.
    CallMeta& meta = route_.request.meta;
    meta.method = head.method;
    meta.url = head.url;
    for (const Header& h : head.headers) meta.headers.emplace_back(h.name, h.value);
  }
  call_ = calls_.start(*this, std::move(route_.request));
  reply_.begin(std::move(route_.policy), call_.get());
}

void HttpExchange::end_of_request() {
  if (phase_ == Phase::Receiving) {
    phase_ = Phase::Running;
    call_->end_input();
    // A call keeps reading so a caller that hangs up is noticed; the bytes wait in pending_.
    if (pending_.size() < kPendingLimit) {
      resume_input();
    } else {
      pause_input();
    }
    return;
  }
  switch (after_body_) {
    case AfterBody::Refuse:
      send_text(route_.reject, route_.message, std::move(route_.headers), false);
      break;
    case AfterBody::Answer: answer(early_); break;
    case AfterBody::Next: response_done(); break;
  }
}

void HttpExchange::call_output(std::string_view bytes) {
  reply_.output(bytes);
}

void HttpExchange::call_input_ready() {
  // Only a body read paused for the command resumes here (not one paused for pipelining).
  if (phase_ != Phase::Receiving || reader_.reading()) return;
  // Resume with what was left over when the command fell behind, then the input.
  std::string rest = std::move(pending_);
  pending_.clear();
  resume_input();
  parse(rest);
  check_input_exhausted();
}

void HttpExchange::call_finished(const Outcome& outcome) {
  std::unique_ptr<CallControl> done = std::move(call_);  // destroyed on return: the call ended
  if (phase_ == Phase::Running) {
    answer(outcome);
    return;
  }
  if (phase_ != Phase::Receiving) {
    reply_.abandon();
    return;
  }
  // The command ended before the request body did. The rest of the body is read and dropped
  // before answering, so the exchange stays usable; a response already streaming ends now.
  phase_ = Phase::Discarding;
  if (reply_.streaming()) {
    reply_.finish(outcome);
    if (phase_ != Phase::Discarding) return;  // the response was abandoned
    after_body_ = AfterBody::Next;
  } else {
    after_body_ = AfterBody::Answer;
    early_ = outcome;
    reply_.release_call();
  }
  std::string rest = std::move(pending_);
  pending_.clear();
  resume_input();
  parse(rest);
  check_input_exhausted();
}

void HttpExchange::answer(const Outcome& outcome) {
  phase_ = Phase::Answering;
  reply_.finish(outcome);  // reply_sent() follows, now or once the call's log lines are out
}

void HttpExchange::reply_sent() {
  // Not Answering: a streamed answer ended while the body still arrives (Discarding goes on),
  // or one abandoned (Closing, Ended).
  if (phase_ == Phase::Answering) response_done();
}

namespace {
// The answer's Content-Type: the output's when it is the body, else the text of a message.
std::string_view content_type_of(const Verdict& v) {
  return v.output_is_body ? std::string_view(v.content_type) : std::string_view(kTextPlain);
}
}  // namespace

void HttpExchange::send_whole(const Verdict& v, std::string_view body) {
  status_ = v.status;
  std::string head = response_head(v.status, {owner_.response_headers(), v.headers, v.trailers},
                                   content_type_of(v), static_cast<int64_t>(body.size()));
  std::string_view pieces[] = {head, head_only_ ? std::string_view() : body};
  writer_.write(pieces);
}

void HttpExchange::send_head(const Verdict& v, std::string_view first) {
  status_ = v.status;
  std::string head =
      response_head(v.status, {owner_.response_headers(), v.headers}, content_type_of(v), -1);
  if (first.empty() || head_only_) {
    writer_.write(head);
    return;
  }
  // The head and the first chunk in one write.
  std::string size = chunk_header(first.size());
  std::string_view pieces[] = {head, size, first, "\r\n"};
  writer_.write(pieces);
}

void HttpExchange::send_more(std::string_view bytes) {
  if (bytes.empty() || head_only_) return;  // an empty chunk would end the body
  std::string size = chunk_header(bytes.size());
  std::string_view pieces[] = {size, bytes, "\r\n"};
  writer_.write(pieces);
}

void HttpExchange::send_end(const Verdict& v) {
  if (!v.failed) {
    if (head_only_) return;
    writer_.write(v.trailers.empty() ? std::string("0\r\n\r\n") : chunk_trailer(v.trailers));
    return;
  }
  std::string_view id = reply_.call_id();
  if (transport_ == Transport::Connection) {
    // The status is already on the wire; the only honest signal left is a body that never ends.
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
}

void HttpExchange::send_text(int status, std::string_view message, std::vector<Header> extra,
                             bool then_end) {
  std::vector<Header> headers = owner_.response_headers();
  bool typed = false;
  for (Header& h : extra) {
    typed = typed || iequals(h.name, "Content-Type");
    headers.push_back(std::move(h));
  }
  if (!typed) headers.push_back({"Content-Type", kTextPlain});
  if (then_end) headers.push_back({"Connection", "close"});
  status_ = status;
  std::string body =
      route_.verbatim ? std::string(message) : "hotwrap: " + std::string(message) + "\n";
  std::string head = response_head(status, headers, static_cast<int64_t>(body.size()));
  std::string_view pieces[] = {head, head_only_ ? std::string_view() : body};
  writer_.write(pieces);
  if (then_end) {
    end_after_flush(End::BadInput);
    return;
  }
  response_done();
}

void HttpExchange::response_done() {
  route_ = Route{};
  head_only_ = false;
  owner_.answered(status_);
  bool closing = transport_ == Transport::Connection && !parser_.keep_alive();
  if (closing || owner_.draining()) {
    end_after_flush(End::Clean);
    return;
  }
  phase_ = Phase::Answered;
  next_.start(microseconds(0));
}

void HttpExchange::on_drained() {
  if (phase_ == Phase::Closing) {
    end(end_after_flush_);
    return;
  }
  reply_.drained();
}

}  // namespace hotwrap
