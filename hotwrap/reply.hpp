// The one reply path every contract answers through: it holds the command's stdout up to a limit
// so that the status can follow the exit code; past the limit it commits and streams with
// backpressure; at the call's end it has the protocol's policy decide, and the framing send. Only
// the framing (HTTP, a JSON string, an outbound POST) and the status policy belong to a protocol.
//
// CGI (HOTWRAP_CGI=1): the output may begin with a CGI header block (hotwrap/cgi.hpp). The reply
// decodes it from the first bytes, held (at most HOTWRAP_MAX_HEADER_BYTES) before anything is
// committed, so no status leaves before the head is decided; the body after it is held and
// streamed as any output. The policy stays the one place that decides: it is handed the decoded
// head with the outcome, and maps it onto its answer (Fn: Fn-Http-Status and Fn-Http-H-*; a
// protocol whose answer is the HTTP response itself: put_cgi_head()). A block that begins but is
// broken never reaches a policy as a head: the reply drops the output and makes a successful
// outcome a failure (Outcome::Kind::BadOutput, naming the reason), so every policy already
// answers it with its failure verdict; a failed command's own outcome is left as it is.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/cgi.hpp"
#include "hotwrap/config.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/log.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/runner.hpp"

namespace hotwrap {

inline constexpr const char* kTextPlain = "text/plain; charset=utf-8";

// How a call is answered: decided by the protocol's policy from the command's fate alone.
struct Verdict {
  int status = 200;
  std::vector<Header> headers;  // the protocol's own (Fn-Http-Status, ...); no framing headers
  // Sent after a streamed body where the framing can (HTTP's chunked trailer), e.g. the call's
  // duration, which is known only at its end; a whole answer carries them with `headers`.
  std::vector<Header> trailers;
  std::string content_type;  // of the output, when it is the body
  // True: the command's output is the body. False: `message` is, as kTextPlain.
  bool output_is_body = true;
  std::string message;
  // The call failed. A framing that has already sent a success status cannot say so any more
  // and abandons the answer instead (HTTP: no final chunk).
  bool failed = false;
};

// The text a failed call answers with, in every contract: what happened and, unless
// HOTWRAP_ERROR_DETAIL=0, the last lines of the command's stderr (the reason, e.g. "parse error:
// Invalid numeric literal").
std::string failure_text(const Outcome& outcome, const Config& config);

// The status policy of a call: one place decides, streaming included. Called with a null
// `outcome` when the reply commits to streaming while the command still runs (the status it
// starts with), and with the outcome at the end. `cgi`: the head the command's output began with
// (HOTWRAP_CGI=1), decoded and validated; nullptr when CGI is off or the output had none. A policy
// uses it only for a call that did not fail: a failure's answer is the policy's own.
using StatusPolicy = std::function<Verdict(const Outcome* outcome, const CgiHead* cgi)>;

// The command's CGI head as the answer's own status, headers and Content-Type, straight: what a
// protocol whose answer is the HTTP response itself does with it (plain HTTP; Fn's legacy json
// and http formats; Lambda's statusCode and headers). A 204 or 304 is answered without the
// output: HTTP allows them no body, and a reader would take one for the next message.
void put_cgi_head(Verdict& verdict, const CgiHead& head);

// Puts a reply on the wire; a protocol implements it for its framing.
class ReplyFraming {
 public:
  // A whole answer: the status is known and nothing has been sent.
  virtual void send_whole(const Verdict& verdict, std::string_view body) = 0;
  // Begins a streamed answer with `verdict` (the policy's status while running) and its first
  // bytes of output.
  virtual void send_head(const Verdict& verdict, std::string_view first) = 0;
  virtual void send_more(std::string_view bytes) = 0;
  // Ends a streamed answer with the final verdict (verdict.failed: the framing signals what it
  // can, or abandons the answer).
  virtual void send_end(const Verdict& verdict) = 0;
  // Bytes written but not yet taken by the reader: the measure of backpressure.
  virtual size_t queued() const = 0;
  // The answer has been handed over (by finish(), or a little later when it waited for the
  // call's log lines): the protocol moves on to its next request.
  virtual void reply_sent() = 0;

 protected:
  ~ReplyFraming() = default;
};

// One call's reply at a time. The owner passes it the call's output and end, and tells it when
// the framing's queue has drained.
class Reply final : private LogWaiter {
 public:
  Reply(Loop& loop, ReplyFraming& framing, const Config& config);

  // A new call's reply, decided by `policy`; `call` is paused while the framing is congested.
  // `http`: the answer is HTTP-shaped, so HOTWRAP_CGI=1 applies to it (not to Funker's raw
  // bytes).
  void begin(StatusPolicy policy, CallControl* call, bool http = true);
  // The command's output.
  void output(std::string_view bytes);
  // The call has ended: the policy decides, the call's summary line is logged (failures at warn,
  // others at info with HOTWRAP_LOG_CALLS=1, else debug) and then the framing sends, and
  // reply_sent() follows. A platform files the container's log lines under the call that is
  // running, so a whole answer waits for the lines before it to leave hotwrap — at most
  // kLogWait, and not at all for a call at its deadline (the answer must beat it).
  void finish(const Outcome& outcome);
  // The framing's queue drained: a paused call reads its output again.
  void drained();
  // The call is gone without an answer (the caller went away): forget it.
  void abandon();

  // The call has ended and is gone, but its answer waits (for the rest of the request body).
  void release_call() { call_ = nullptr; }
  // The id of the call being answered, for log lines ("" once released).
  std::string_view call_id() const { return call_ != nullptr ? call_->id() : std::string_view(); }

  // The output held so far, while the answer has not begun (a policy may check it whole).
  std::string_view held() const { return held_; }
  bool streaming() const { return phase_ == Phase::Streaming; }
  bool active() const { return phase_ != Phase::Idle; }

 private:
  enum class Phase { Idle, Holding, Streaming, Sending };
  void commit();
  // HOTWRAP_CGI=1, the head undecided: feeds `bytes` (already appended to held_) to the decoder;
  // true once the held bytes are the body.
  bool decode_head(std::string_view bytes);
  // The outcome the policy is given: `outcome`, or a failure if it succeeded and its CGI head is
  // broken (an undecided head is decided first: the output has ended).
  const Outcome* judge(const Outcome& outcome);
  const CgiHead* head() const { return has_head_ ? &decoder_.head() : nullptr; }
  void log_summary(const Verdict& verdict, const Outcome& outcome) const;
  void send(const Verdict& verdict);
  void log_drained() override;

  ReplyFraming& framing_;
  const uint64_t hold_limit_;
  const bool log_calls_;
  const bool capture_;  // HOTWRAP_CAPTURE_DIR: the call's capture hears the verdict
  std::string id_;      // of the call being answered
  Phase phase_ = Phase::Idle;
  StatusPolicy policy_;
  CallControl* call_ = nullptr;
  std::string held_;
  Verdict pending_;  // Sending: the answer waiting for its log lines
  Timer log_wait_;
  bool paused_ = false;
  // CGI: the decoder, whether the head is still being decoded, what it was, and a broken one's
  // outcome. The output of a call whose head is broken is dropped: its answer is a failure.
  const bool cgi_;
  CgiHeadDecoder decoder_;
  bool head_pending_ = false;
  bool has_head_ = false;
  bool dropping_ = false;
  Outcome bad_;
};

}  // namespace hotwrap
