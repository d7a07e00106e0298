#include "hotwrap/capture.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <vector>

#include "hotwrap/deadline.hpp"
#include "hotwrap/log.hpp"

namespace hotwrap {

namespace {

constexpr const char* kPartial = ".partial";

const char* kind_name(Outcome::Kind k) {
  switch (k) {
    case Outcome::Kind::Exited: return "exited";
    case Outcome::Kind::Signaled: return "signaled";
    case Outcome::Kind::NotStarted: return "not-started";
    case Outcome::Kind::TimedOut: return "timed-out";
    case Outcome::Kind::Expired: return "expired";
    case Outcome::Kind::ShutDown: return "shut-down";
    case Outcome::Kind::BadOutput: return "bad-output";
  }
  return "unknown";
}

// `s` as a JSON string, escaped as log lines are (headers, variables and stderr are bytes).
void quote(std::string& out, std::string_view s) {
  append_json_string(out, s);
}

// A JSON object written one member a line, in the order given.
class JsonOut {
 public:
  JsonOut& key(std::string_view k) {
    out_ += out_.empty() ? "{\n " : ",\n ";
    quote(out_, k);
    out_ += ": ";
    return *this;
  }
  JsonOut& str(std::string_view k, std::string_view v) {
    key(k);
    quote(out_, v);
    return *this;
  }
  JsonOut& num(std::string_view k, long long v) {
    key(k);
    out_ += std::to_string(v);
    return *this;
  }
  JsonOut& flag(std::string_view k, bool v) {
    key(k);
    out_ += v ? "true" : "false";
    return *this;
  }
  JsonOut& raw(std::string_view k, std::string_view v) {
    key(k);
    out_ += v;
    return *this;
  }
  std::string done() { return std::move(out_) + "\n}\n"; }

 private:
  std::string out_;
};

std::string pairs(const std::vector<std::pair<std::string, std::string>>& v) {
  std::string out = "[";
  for (const auto& [n, val] : v) {
    if (out.size() > 1) out += ", ";
    out += '[';
    quote(out, n);
    out += ", ";
    quote(out, val);
    out += ']';
  }
  return out + "]";
}

// Writes `data` to dir/name, 0600. The errno on failure.
int write_file(const std::string& dir, const char* name, std::string_view data) {
  std::string path = dir + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errno;
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      return err;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ::close(fd) == 0 ? 0 : errno;
}

// Removes `path` and the files in it (a capture holds no subdirectory); returns the bytes freed.
uint64_t remove_capture(const std::string& path) {
  uint64_t freed = 0;
  if (DIR* d = ::opendir(path.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      std::string f = path + "/" + e->d_name;
      struct stat st{};
      if (::lstat(f.c_str(), &st) == 0) freed += static_cast<uint64_t>(st.st_size);
      ::unlink(f.c_str());
    }
    ::closedir(d);
  }
  ::rmdir(path.c_str());
  return freed;
}

// What a file of `n` bytes takes on disk, near enough: whole 4 KiB blocks (the budget is about
// the disk, and a capture is mostly small files).
uint64_t on_disk(uint64_t n) {
  constexpr uint64_t kBlock = 4096;
  return (n + kBlock - 1) / kBlock * kBlock;
}

uint64_t capture_bytes(const std::string& path) {
  uint64_t total = on_disk(1);  // the directory
  if (DIR* d = ::opendir(path.c_str())) {
    while (dirent* e = ::readdir(d)) {
      struct stat st{};
      std::string f = path + "/" + e->d_name;
      if (e->d_name[0] != '.' && ::lstat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        total += on_disk(static_cast<uint64_t>(st.st_size));
      }
    }
    ::closedir(d);
  }
  return total;
}

}  // namespace

std::pair<uint64_t, uint64_t> capture_split(uint64_t req, uint64_t ans, uint64_t max) {
  uint64_t half = max / 2;
  uint64_t req_keep = std::min(req, std::max(half, ans < max ? max - ans : 0));
  uint64_t ans_keep = std::min(ans, max - req_keep);
  return {req_keep, ans_keep};
}

std::string capture_name(std::chrono::system_clock::time_point start, uint64_t seq,
                         std::string_view id) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  tm utc{};
  ::gmtime_r(&secs, &utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d.%03dZ-%06llu-", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000), static_cast<unsigned long long>(seq % 1000000));
  std::string name = buf;
  for (char c : id.substr(0, 64)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    name += ok ? c : '_';
  }
  return name;
}

std::string capture_answer_json(const Verdict* v, const Outcome* o, uint64_t stdout_bytes,
                                uint64_t body_bytes, uint64_t body_kept) {
  JsonOut ans;
  ans.num("version", 1).flag("answered", v != nullptr).num("status", v != nullptr ? v->status : 0);
  std::vector<std::pair<std::string, std::string>> headers;
  if (v != nullptr) {
    for (const Header& h : v->headers) headers.emplace_back(h.name, h.value);
    for (const Header& h : v->trailers) headers.emplace_back(h.name, h.value);
  }
  ans.raw("headers", pairs(headers));
  ans.flag("output_is_body", v == nullptr || v->output_is_body)
      .flag("failed", v != nullptr && v->failed);
  if (o != nullptr) {
    std::string outcome = "{\"kind\": ";
    quote(outcome, kind_name(o->kind));
    outcome += ", \"code\": " + std::to_string(o->code) +
               ", \"exit_code\": " + std::to_string(o->exit_code()) + ", \"describe\": ";
    quote(outcome, o->describe());
    ans.raw("outcome", outcome + "}");
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f", static_cast<double>(o->stats.duration.count()) / 1000.0);
    ans.raw("duration_ms", ms);
    ans.str("stderr_tail", o->stderr_tail);
  } else {
    ans.raw("outcome",
            "{\"kind\": \"abandoned\", \"describe\": \"the caller went away mid-call\"}");
  }
  ans.num("stdout_bytes", static_cast<long long>(stdout_bytes));
  ans.num("body_bytes", static_cast<long long>(body_bytes));
  ans.num("body_kept", static_cast<long long>(body_kept));
  ans.flag("body_truncated", body_kept < body_bytes);
  return ans.done();
}

// One call as the capture sees it: shared by the call's decorator and the verdict's observer,
// written once both the call's end and its verdict are in, or when the last of them lets go.
struct CaptureStarter::Record {
  CaptureStarter& starter;
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
  std::string id;
  CallMeta meta;
  std::vector<std::pair<std::string, std::string>> env;
  std::string request;
  uint64_t request_bytes = 0;
  std::string output;
  uint64_t output_bytes = 0;
  std::optional<Outcome> outcome;
  std::optional<Verdict> verdict;
  bool written = false;

  explicit Record(CaptureStarter& s) : starter(s) {}
  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;
  // A call whose caller went away has no verdict: it is written as it stands.
  ~Record() {
    if (!written) starter.store(*this);
  }
  void keep(std::string& into, uint64_t& count, std::string_view bytes) const {
    count += bytes.size();
    uint64_t room = starter.config_.capture_max_bytes;
    if (into.size() < room) into.append(bytes.substr(0, room - into.size()));
  }
  // Once both the end and the verdict are in, the record is written on the next loop iteration:
  // after the answer has left.
  static void maybe_store(const std::shared_ptr<Record>& r) {
    if (r->written || !r->outcome || !r->verdict) return;
    r->written = true;
    r->starter.pending_.push_back(r);
    r->starter.flush_.start(std::chrono::microseconds(0));
  }
};

namespace {

// The decorator around one running call: it sees the body go in, the output come out and the
// end; everything else passes through.
class CapturedCall final : public CallControl, private CallHandler {
 public:
  CapturedCall(CallStarter& inner, CallHandler& outer, CallRequest request,
               std::shared_ptr<CaptureStarter::Record> record)
      : outer_(outer), record_(std::move(record)) {
    record_->meta = request.meta;
    record_->env.clear();
    for (auto [name, value] : request.env.vars()) record_->env.emplace_back(name, value);
    inner_ = inner.start(*this, std::move(request));
    record_->id = inner_->id();  // the runner makes one when the platform gave none
  }

  void feed(std::span<const std::string_view> pieces) override {
    for (std::string_view p : pieces) record_->keep(record_->request, record_->request_bytes, p);
    inner_->feed(pieces);
  }
  using CallControl::feed;
  void end_input() override { inner_->end_input(); }
  bool input_congested() const override { return inner_->input_congested(); }
  void pause_output() override { inner_->pause_output(); }
  void resume_output() override { inner_->resume_output(); }
  const std::string& id() const override { return inner_->id(); }
  std::function<void(const Verdict&)> verdict_observer() override {
    return [record = record_](const Verdict& v) {
      record->verdict = v;
      CaptureStarter::Record::maybe_store(record);
    };
  }

 private:
  void call_output(std::string_view bytes) override {
    record_->keep(record_->output, record_->output_bytes, bytes);
    outer_.call_output(bytes);
  }
  void call_input_ready() override { outer_.call_input_ready(); }
  void call_finished(const Outcome& outcome) override {
    std::shared_ptr<CaptureStarter::Record> record = record_;  // `this` may go in the next line
    record->outcome = outcome;
    outer_.call_finished(outcome);
    CaptureStarter::Record::maybe_store(record);
  }

  CallHandler& outer_;
  std::shared_ptr<CaptureStarter::Record> record_;
  std::unique_ptr<CallControl> inner_;
};

}  // namespace

CaptureStarter::CaptureStarter(Loop& loop, CallStarter& inner, const Config& config)
    : inner_(inner), config_(config), flush_(loop, [this] { flush(); }) {
  const std::string& dir = config.capture_dir;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    log(Level::Warn, {}, "capture: cannot create %s: %s; calls go on uncaptured", dir.c_str(),
        std::strerror(errno));
    failing_ = true;
  }
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n.starts_with('.')) continue;
      if (n.ends_with(kPartial)) {
        remove_capture(dir + "/" + std::string(n));  // a write cut short by a crash
        continue;
      }
      if (n.size() > 20 && n[8] == 'T') names.emplace_back(n);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (std::string& n : names) {
    uint64_t bytes = capture_bytes(dir + "/" + n);
    total_ += bytes;
    kept_.emplace_back(std::move(n), bytes);
  }
  while (total_ > config_.capture_total_bytes && !kept_.empty()) remove_oldest();
}

std::unique_ptr<CallControl> CaptureStarter::start(CallHandler& handler, CallRequest request) {
  auto record = std::make_shared<Record>(*this);
  return std::make_unique<CapturedCall>(inner_, handler, std::move(request), std::move(record));
}

CaptureStarter::~CaptureStarter() {
  flush();
}

void CaptureStarter::flush() {
  std::vector<std::shared_ptr<Record>> records = std::move(pending_);
  pending_.clear();
  for (const auto& r : records) store(*r);
}

void CaptureStarter::remove_oldest() {
  uint64_t bytes = kept_.front().second;
  remove_capture(config_.capture_dir + "/" + kept_.front().first);
  kept_.erase(kept_.begin());
  total_ -= std::min(total_, bytes);
}

void CaptureStarter::store(const Record& r) {
  const Verdict* v = r.verdict ? &*r.verdict : nullptr;
  bool output_is_body = v == nullptr || v->output_is_body;
  std::string_view answer = output_is_body ? std::string_view(r.output) : v->message;
  uint64_t answer_bytes = output_is_body ? r.output_bytes : v->message.size();
  auto [req_kept, ans_kept] =
      capture_split(r.request_bytes, answer_bytes, config_.capture_max_bytes);
  req_kept = std::min<uint64_t>(req_kept, r.request.size());
  ans_kept = std::min<uint64_t>(ans_kept, answer.size());

  JsonOut req;
  req.num("version", 1).str("contract", r.meta.contract).str("id", r.id);
  req.str("time",
          format_rfc3339_ms(std::chrono::time_point_cast<std::chrono::microseconds>(r.time)));
  std::string command = "[";
  for (const std::string& a : config_.command) {
    if (command.size() > 1) command += ", ";
    quote(command, a);
  }
  req.raw("command", command + "]");
  if (!r.meta.method.empty()) {
    req.str("method", r.meta.method).str("url", r.meta.url).raw("headers", pairs(r.meta.headers));
  }
  std::string env = "{";
  for (const auto& [n, val] : r.env) {
    if (env.size() > 1) env += ", ";
    quote(env, n);
    env += ": ";
    quote(env, val);
  }
  req.raw("env", env + "}");
  req.num("body_bytes", static_cast<long long>(r.request_bytes));
  req.num("body_kept", static_cast<long long>(req_kept));
  req.flag("body_truncated", req_kept < r.request_bytes);

  std::string ans_text = capture_answer_json(v, r.outcome ? &*r.outcome : nullptr, r.output_bytes,
                                             answer_bytes, ans_kept);

  std::string name = capture_name(r.time, ++seq_, r.id);
  std::string partial = config_.capture_dir + "/" + name + kPartial;
  std::string req_text = req.done();
  int err = ::mkdir(partial.c_str(), 0700) == 0 ? 0 : errno;
  if (err == 0) err = write_file(partial, "request.json", req_text);
  if (err == 0)
    err = write_file(partial, "request.body", std::string_view(r.request).substr(0, req_kept));
  if (err == 0) err = write_file(partial, "answer.json", ans_text);
  if (err == 0) err = write_file(partial, "answer.body", answer.substr(0, ans_kept));
  std::string final_path = config_.capture_dir + "/" + name;
  if (err == 0 && ::rename(partial.c_str(), final_path.c_str()) != 0) err = errno;
  if (err != 0) {
    remove_capture(partial);
    if (!failing_) {
      log(Level::Warn, r.id,
          "capture: cannot write %s: %s; calls go on uncaptured until a write succeeds",
          partial.c_str(), std::strerror(err));
    }
    failing_ = true;
    return;
  }
  if (failing_) log(Level::Info, r.id, "capture: writing again to %s", config_.capture_dir.c_str());
  failing_ = false;
  uint64_t bytes = on_disk(1) + on_disk(req_text.size()) + on_disk(ans_text.size()) +
                   on_disk(req_kept) + on_disk(ans_kept);
  kept_.emplace_back(std::move(name), bytes);
  total_ += bytes;
  while (total_ > config_.capture_total_bytes && !kept_.empty()) remove_oldest();
}

}  // namespace hotwrap
