#include "protocols/lambda.hpp"

#include "hotwrap/log.hpp"
#include "hotwrap/reply.hpp"
#include "protocols/cgi_env.hpp"
#include "protocols/http_contract.hpp"
#include "protocols/lambda_event.hpp"
#include "transports/http_client.hpp"

namespace hotwrap {

namespace {

using std::chrono::microseconds;

constexpr const char* kErrorType = "Lambda-Runtime-Function-Error-Type";
constexpr const char* kErrorBody = "Lambda-Runtime-Function-Error-Body";
constexpr const char* kTrailers =
    "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body";
// An event is at most 6 MB in Lambda; the emulators take somewhat more. Past this the event is
// not read (and the invocation is answered with an error): memory stays bounded.
constexpr uint64_t kEventLimit = 16u << 20;
// Consecutive failures to reach the Runtime API before hotwrap gives up (the sandbox is going).
constexpr int kMaxFailures = 10;
// What is kept of a refusal's body for the log line.
constexpr size_t kKeepAnswer = 512;

std::string_view trim_newlines(std::string_view s) {
  while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return s;
}

// Every Lambda-Runtime-* header of the event becomes LAMBDA_RUNTIME_* (the request id, the
// deadline, the function's ARN, the trace id, the client context, the Cognito identity, the
// tenant id), and the trace id also _X_AMZN_TRACE_ID, as the AWS SDKs and X-Ray read it.
void add_event_env(CallEnv& env, const ResponseHead& head) {
  for (const Header& h : head.headers) {
    if (h.name.size() <= 15 ||
        !iequals(std::string_view(h.name).substr(0, 15), "Lambda-Runtime-")) {
      continue;
    }
    std::string name;
    bool ok = true;
    for (char c : h.name) {
      if (c == '-') {
        name += '_';
      } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        name += c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
      } else {
        ok = false;
      }
    }
    if (ok) env.add(name, h.value);
  }
  if (const std::string* trace = head.find("Lambda-Runtime-Trace-Id")) {
    env.add("_X_AMZN_TRACE_ID", *trace);
  }
}

}  // namespace

// One /next loop: poll, run the event's call, post its answer, poll again.
class LambdaSlot final : private HttpClient::Handler, private CallHandler, private ReplyFraming {
 public:
  explicit LambdaSlot(LambdaRuntime& rt)
      : rt_(rt),
        client_(rt.loop_, rt.options_.host, rt.options_.port, *this,
                ResponseLimits{64u << 10, 200, kEventLimit}),
        reply_(rt.loop_, *this, rt.config_),
        next_(rt.loop_, [this] { poll(); }) {}
  ~LambdaSlot() {
    call_.reset();  // kills a call still running before what it reports to goes
  }
  LambdaSlot(const LambdaSlot&) = delete;
  LambdaSlot& operator=(const LambdaSlot&) = delete;

  void poll();
  void init_error(const std::string& message, int exit_code);
  // SIGTERM: stops at once when waiting for an event; after its answer when running one.
  void drain();
  bool stopped() const { return state_ == State::Stopped; }

 private:
  // Waiting: between exchanges (a retry's back-off). Polling: GET /next sent. Event: its
  // response (the event) arriving. Running: the call runs, its answer held. Posting: the answer
  // is being sent. InitError: /init/error sent.
  enum class State { Waiting, Polling, Event, Running, Posting, InitError, Stopped };
  // How the answer goes: held by the reply (or here, up to the buffered limit), or streamed.
  enum class Mode { Whole, Holding, Streaming };

  // HttpClient::Handler
  void response_head(const ResponseHead& head) override;
  void response_body(std::span<const std::string_view> pieces) override;
  void response_end(const ResponseHead& head, const std::vector<Header>& trailers) override;
  void request_drained() override { reply_.drained(); }
  void failed(const std::string& why) override;
  // CallHandler
  void call_output(std::string_view bytes) override { reply_.output(bytes); }
  void call_input_ready() override {}  // the event is handed over whole
  void call_finished(const Outcome& outcome) override;
  // ReplyFraming
  void send_whole(const Verdict& v, std::string_view body) override;
  void send_head(const Verdict& v, std::string_view first) override;
  void send_more(std::string_view bytes) override;
  void send_end(const Verdict& v) override;
  size_t queued() const override { return client_.queued(); }
  void reply_sent() override {}  // the slot moves on when the Runtime API has answered the post

  void start_call();
  Verdict verdict(const Outcome* o, const CgiHead* cgi) const;
  void post_error(std::string_view type, std::string body);
  // POSTs `body` to `path` (under /2018-06-01/runtime/), with `type` as the error type if any.
  void post(const std::string& path, const char* content_type, std::string body,
            std::string_view type = {});
  void begin_streaming(const Verdict& v);
  void end_streaming(const Verdict& v);
  void posted();
  void after_post();
  void retry_later(const std::string& why);
  void stop();
  // invocation/{id}/<what>, under /2018-06-01/runtime/.
  std::string target(const char* what) const { return "invocation/" + id_ + "/" + what; }

  LambdaRuntime& rt_;
  HttpClient client_;
  Reply reply_;
  Timer next_;
  std::unique_ptr<CallControl> call_;
  State state_ = State::Waiting;
  Mode mode_ = Mode::Whole;
  std::string id_;
  CallRequest request_;
  std::string event_;
  HttpShape shape_ = HttpShape::None;
  Verdict head_verdict_;  // the verdict the held answer will stream with
  std::string held_;      // Holding: the output past the reply's limit, up to the buffered limit
  int status_ = 0;        // of the response being received
  std::string answer_;    // its body, the beginning of it (for log lines)
  bool whole_response_ = false;  // the post is a buffered /response (a 413 turns it to /error)
  int failures_ = 0;
  int exit_code_ = 0;  // InitError: hotwrap's exit code once it is posted
};

void LambdaSlot::poll() {
  if (rt_.draining_ || rt_.done_) {
    stop();
    return;
  }
  state_ = State::Polling;
  id_.clear();
  event_.clear();
  status_ = 0;
  answer_.clear();
  request_ = CallRequest{};
  // The long poll: no timeout; the Runtime API answers when there is an event.
  client_.request("GET", "/2018-06-01/runtime/invocation/next", {});
}

void LambdaSlot::response_head(const ResponseHead& head) {
  status_ = head.status;
  if (state_ != State::Polling || head.status != 200) return;
  state_ = State::Event;
  if (const std::string* id = head.find("Lambda-Runtime-Aws-Request-Id")) id_ = *id;
  request_.id = id_;
  add_event_env(request_.env, head);
  if (const std::string* d = head.find("Lambda-Runtime-Deadline-Ms")) {
    if (auto ms = lambda_deadline_ms(*d)) {
      request_.deadline = WallTime(std::chrono::milliseconds(*ms));
      request_.deadline_source = "Lambda-Runtime-Deadline-Ms " + *d;
    } else {
      log(Level::Debug, id_, "Lambda-Runtime-Deadline-Ms '%s' is not a time; ignored", d->c_str());
    }
  }
}

void LambdaSlot::response_body(std::span<const std::string_view> pieces) {
  for (std::string_view p : pieces) {
    if (state_ == State::Event) {
      event_.append(p);
    } else if (answer_.size() < kKeepAnswer) {
      answer_.append(p.substr(0, kKeepAnswer - answer_.size()));
    }
  }
}

void LambdaSlot::response_end(const ResponseHead&, const std::vector<Header>&) {
  failures_ = 0;
  switch (state_) {
    case State::Polling:
      // Not 200: the Runtime API refuses to hand out events (403, or 500: non-recoverable).
      log(Level::Error, {}, "GET /next answered %d: %s; exiting", status_,
          std::string(trim_newlines(answer_)).c_str());
      rt_.fatal();
      return;
    case State::Event:
      if (id_.empty()) {
        log(Level::Error, {}, "an event came without Lambda-Runtime-Aws-Request-Id; skipped");
        poll();
        return;
      }
      start_call();
      return;
    case State::Posting: posted(); return;
    case State::InitError:
      if (status_ / 100 != 2) {
        log(Level::Warn, {}, "the Runtime API answered %d to /init/error", status_);
      }
      state_ = State::Stopped;
      rt_.life_.done(exit_code_);
      return;
    default: return;
  }
}

void LambdaSlot::failed(const std::string& why) {
  switch (state_) {
    case State::Event:
      if (!id_.empty()) {
        // The event's head came, so its invocation can still be answered.
        log(Level::Error, id_, "cannot read the event: %s", why.c_str());
        post_error("Runtime.InvalidEvent",
                   lambda_error_json("Runtime.InvalidEvent",
                                     "hotwrap: cannot read the event: " + why, ""));
        return;
      }
      retry_later(why);
      return;
    case State::Polling: retry_later(why); return;
    case State::Posting:
      log(Level::Error, id_, "cannot deliver the answer: %s", why.c_str());
      call_.reset();
      reply_.abandon();
      after_post();
      return;
    case State::InitError:
      log(Level::Error, {}, "cannot post /init/error: %s", why.c_str());
      state_ = State::Stopped;
      rt_.life_.done(exit_code_);
      return;
    default: return;
  }
}

void LambdaSlot::retry_later(const std::string& why) {
  if (++failures_ >= kMaxFailures) {
    log(Level::Error, {}, "the Runtime API cannot be reached (%s), %d times in a row; exiting",
        why.c_str(), failures_);
    rt_.fatal();
    return;
  }
  log(Level::Warn, {}, "waiting for the next event failed: %s; trying again", why.c_str());
  state_ = State::Waiting;
  next_.start(microseconds(10'000 << failures_));  // 20 ms doubling to 5 s
}

void LambdaSlot::start_call() {
  const Config& cfg = rt_.config_;
  shape_ = HttpShape::None;
  std::string body;
  if (cfg.lambda_event != "raw") {
    auto e = decode_http_event(event_, cfg.lambda_event == "http");
    if (!e) {
      log(Level::Error, id_, "%s", e.error().c_str());
      post_error("Runtime.InvalidEvent",
                 lambda_error_json("Runtime.InvalidEvent", "hotwrap: " + e.error(), ""));
      return;
    }
    shape_ = e->shape;
    if (shape_ != HttpShape::None) {
      add_http_request_env(request_.env, e->head);
      if (cfg.cgi) {
        add_cgi_request_env(request_.env, {.method = e->head.method,
                                           .target = e->head.url,
                                           .headers = e->head.headers,
                                           .content_length = e->body.size(),
                                           .remote_addr = e->source_ip});
      }
      body = std::move(e->body);
    }
  }
  if (shape_ == HttpShape::None) body = std::move(event_);
  event_ = std::string();
  state_ = State::Running;
  mode_ = Mode::Whole;
  call_ = rt_.calls_.start(*this, std::move(request_));
  reply_.begin([this](const Outcome* o, const CgiHead* cgi) { return verdict(o, cgi); },
               call_.get());
  call_->feed(body);
  call_->end_input();
}

Verdict LambdaSlot::verdict(const Outcome* o, const CgiHead* cgi) const {
  const Config& cfg = rt_.config_;
  Verdict v;
  v.content_type = cfg.content_type;
  if (o == nullptr || o->ok()) {
    // HOTWRAP_CGI=1: an HTTP event's statusCode and headers; a raw event's Content-Type.
    if (cgi != nullptr) put_cgi_head(v, *cgi);
    return v;
  }
  v.failed = true;
  v.status = 500;
  v.output_is_body = false;
  const char* type = lambda_error_type(*o);
  v.headers.push_back({kErrorType, type});
  v.message = lambda_error_json(type, trim_newlines(failure_text(*o, cfg)),
                                cfg.error_detail ? o->stderr_tail : std::string());
  return v;
}

void LambdaSlot::call_finished(const Outcome& outcome) {
  std::unique_ptr<CallControl> done = std::move(call_);  // destroyed on return: the call ended
  reply_.finish(outcome);
}

void LambdaSlot::send_whole(const Verdict& v, std::string_view body) {
  if (v.failed) {
    const std::string* type = find_header(v.headers, kErrorType);
    post_error(type != nullptr ? *type : "Runtime.Unknown", v.message);
    return;
  }
  std::string payload =
      shape_ != HttpShape::None ? http_answer(shape_, v, body) : std::string(body);
  if (rt_.config_.lambda_stream || payload.size() > kLambdaBufferedLimit) {
    begin_streaming(v);
    client_.stream(body);
    end_streaming(v);
    return;
  }
  whole_response_ = true;
  post(target("response"), shape_ != HttpShape::None ? "application/json" : v.content_type.c_str(),
       std::move(payload));
}

void LambdaSlot::send_head(const Verdict& v, std::string_view first) {
  if (rt_.config_.lambda_stream) {
    begin_streaming(v);
    client_.stream(first);
    return;
  }
  // The reply's own limit is passed, the Runtime API's is not yet: hold on until it is.
  mode_ = Mode::Holding;
  head_verdict_ = v;
  held_.assign(first);
  send_more({});
}

void LambdaSlot::send_more(std::string_view bytes) {
  if (mode_ == Mode::Streaming) {
    client_.stream(bytes);
    return;
  }
  held_.append(bytes);
  // An HTTP answer carries its body as base64 at worst: 4/3 of it, plus the head.
  size_t size = shape_ != HttpShape::None ? held_.size() / 3 * 4 + 8192 : held_.size();
  if (size <= kLambdaBufferedLimit) return;
  begin_streaming(head_verdict_);
  client_.stream(held_);
  std::string().swap(held_);
}

void LambdaSlot::send_end(const Verdict& v) {
  if (mode_ == Mode::Holding) {
    mode_ = Mode::Whole;
    std::string body = std::move(held_);
    std::string().swap(held_);
    send_whole(v, body);
    return;
  }
  end_streaming(v);
}

void LambdaSlot::begin_streaming(const Verdict& v) {
  mode_ = Mode::Streaming;
  state_ = State::Posting;
  whole_response_ = false;
  status_ = 0;
  answer_.clear();
  bool http = shape_ != HttpShape::None;
  std::vector<Header> headers{
      {"Lambda-Runtime-Function-Response-Mode", "streaming"},
      {"Trailer", kTrailers},
  };
  std::string ct = http ? kHttpIntegrationType : v.content_type;
  if (!ct.empty()) headers.push_back({"Content-Type", ct});
  client_.begin_stream("POST", "/2018-06-01/runtime/" + target("response"), headers);
  if (http) client_.stream(http_stream_prelude(v));
}

void LambdaSlot::end_streaming(const Verdict& v) {
  std::vector<Header> trailers;
  if (v.failed) {
    // The answer has begun: the failure can only be told in the trailers.
    const std::string* type = find_header(v.headers, kErrorType);
    trailers.push_back({kErrorType, type != nullptr ? *type : "Runtime.Unknown"});
    trailers.push_back({kErrorBody, base64_encode(v.message)});
    log(Level::Warn, id_, "the command failed after its answer began streaming: %s in the trailers",
        trailers[0].value.c_str());
  }
  client_.end_stream(trailers);
}

void LambdaSlot::post_error(std::string_view type, std::string body) {
  whole_response_ = false;
  post(target("error"), "application/json", std::move(body), type);
}

void LambdaSlot::post(const std::string& path, const char* content_type, std::string body,
                      std::string_view type) {
  state_ = State::Posting;
  status_ = 0;
  answer_.clear();
  std::vector<Header> headers;
  if (!type.empty()) headers.push_back({kErrorType, std::string(type)});
  if (*content_type != '\0') headers.push_back({"Content-Type", content_type});
  client_.request("POST", "/2018-06-01/runtime/" + path, headers, std::move(body));
}

void LambdaSlot::posted() {
  if (call_) {
    // The Runtime API answered before the streamed answer was complete: it refuses the rest.
    log(Level::Warn, id_, "the Runtime API ended the streamed answer early (%d); ending the call",
        status_);
    call_.reset();
    reply_.abandon();
  }
  std::string body(trim_newlines(answer_));
  if (status_ / 100 == 2) {
    after_post();
  } else if (status_ == 413 && whole_response_) {
    // Lambda's own name for the case; the caller learns why instead of seeing nothing.
    log(Level::Warn, id_, "the Runtime API refused the answer as too large (413): %s",
        body.c_str());
    post_error("Function.ResponseSizeTooLarge",
               lambda_error_json("Function.ResponseSizeTooLarge",
                                 "hotwrap: the Runtime API refused the command's answer as too "
                                 "large (413): " +
                                     body,
                                 ""));
  } else if (status_ >= 500) {
    log(Level::Error, id_, "the Runtime API answered %d (non-recoverable): %s; exiting", status_,
        body.c_str());
    rt_.fatal();
  } else {
    log(Level::Warn, id_, "the Runtime API answered %d to the answer: %s", status_, body.c_str());
    after_post();
  }
}

void LambdaSlot::after_post() {
  mode_ = Mode::Whole;
  if (held_.capacity() > 0) std::string().swap(held_);
  if (rt_.draining_ || rt_.done_) {
    stop();
    return;
  }
  state_ = State::Waiting;
  poll();
}

void LambdaSlot::init_error(const std::string& message, int exit_code) {
  exit_code_ = exit_code;
  post("init/error", "application/json",
       lambda_error_json("Runtime.InvalidEntrypoint", "hotwrap: " + message, ""),
       "Runtime.InvalidEntrypoint");
  state_ = State::InitError;
}

void LambdaSlot::drain() {
  if (state_ == State::Waiting || state_ == State::Polling || state_ == State::Event) {
    // The long poll is abandoned; an event half-received is the Runtime API's to hand out again.
    next_.stop();
    client_.reset();
    stop();
  }
}

void LambdaSlot::stop() {
  if (state_ == State::Stopped) return;
  state_ = State::Stopped;
  next_.stop();
  rt_.slot_stopped();
}

LambdaRuntime::LambdaRuntime(Loop& loop, CallStarter& calls, const Config& config, Lifecycle& life,
                             LambdaOptions options)
    : loop_(loop), calls_(calls), config_(config), life_(life), options_(std::move(options)) {
  size_t n = options_.concurrency == 0 ? 1 : options_.concurrency;
  for (size_t i = 0; i < n; ++i) slots_.push_back(std::make_unique<LambdaSlot>(*this));
}

LambdaRuntime::~LambdaRuntime() = default;

void LambdaRuntime::start() {
  for (auto& s : slots_) s->poll();
}

void LambdaRuntime::init_error(const std::string& message, int exit_code) {
  slots_.front()->init_error(message, exit_code);
}

void LambdaRuntime::drain() {
  draining_ = true;
  for (auto& s : slots_) s->drain();
  slot_stopped();
}

void LambdaRuntime::slot_stopped() {
  if (!draining_ || done_) return;
  for (auto& s : slots_) {
    if (!s->stopped()) return;
  }
  done_ = true;
  life_.done(0);
}

void LambdaRuntime::fatal() {
  if (done_) return;
  done_ = true;
  life_.done(1);
}

}  // namespace hotwrap
