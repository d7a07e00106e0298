#include "app/replay.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "app/lifecycle.hpp"
#include "hotwrap/capture.hpp"
#include "hotwrap/log.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/reply.hpp"
#include "hotwrap/runner.hpp"
#include "hotwrap/signals.hpp"
#include "protocols/fn_policy.hpp"
#include "protocols/funker.hpp"
#include "protocols/http_contract.hpp"
#include "protocols/json.hpp"

namespace hotwrap {

using nlohmann::json;

namespace {

std::optional<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

bool write_file(const std::string& path, std::string_view data) {
  std::string tmp = path + ".new";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = true;
  while (!data.empty() && ok) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) data.remove_prefix(static_cast<size_t>(n));
  }
  ok = ::close(fd) == 0 && ok;
  return ok && ::rename(tmp.c_str(), path.c_str()) == 0;
}

bool is_dir(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The call directories under `dir` (or `dir` itself when it is one), oldest first.
std::vector<std::string> captures(const std::string& dir) {
  std::vector<std::string> out;
  struct stat st{};
  if (::stat((dir + "/request.json").c_str(), &st) == 0) return {dir};
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n.starts_with('.') || n.ends_with(".partial")) continue;
      std::string path = dir + "/" + std::string(n);
      if (is_dir(path) && ::stat((path + "/request.json").c_str(), &st) == 0) out.push_back(path);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string escaped(std::string_view s, size_t max = 120) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, c == '\t' ? "\\t" : "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (out.size() >= max) out += "...";
  return out;
}

// The few ways replay reads a capture's JSON, each instantiated once.
const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}
std::string text(const json& j, const char* key) {
  const json* m = member(j, key);
  return m != nullptr && m->is_string() ? m->get<std::string>() : std::string();
}
long long number(const json& j, const char* key, long long fallback = 0) {
  const json* m = member(j, key);
  return m != nullptr && m->is_number_integer() ? m->get<long long>() : fallback;
}
bool flag(const json& j, const char* key) {
  const json* m = member(j, key);
  return m != nullptr && m->is_boolean() && m->get<bool>();
}

// Collects one call's output and end, and stops its loop.
class Collector final : public CallHandler {
 public:
  explicit Collector(Lifecycle& life) : life_(life) {}
  void call_output(std::string_view bytes) override { output.append(bytes); }
  void call_input_ready() override {}
  void call_finished(const Outcome& o) override {
    outcome = o;
    life_.done(0);
  }
  std::string output;
  std::optional<Outcome> outcome;

 private:
  Lifecycle& life_;
};

// Runs one call of `command` with `env` and `body` to its end.
std::optional<std::pair<Outcome, std::string>> run_call(const Config& base, int signal_fd,
                                                        const char* const* base_env,
                                                        const std::string& id, const CallEnv& env,
                                                        const std::string& body) {
  auto loop = Loop::create();
  if (!loop) return std::nullopt;
  Reaper reaper;
  Runner runner(**loop, reaper, base, base_env);
  AppLifecycle life(**loop, runner, base);
  Watch signals(**loop, signal_fd, EV_READ, [&] {
    for (int sig : read_signals(signal_fd)) {
      if (sig == SIGCHLD) reaper.reap();
    }
  });
  signals.start();
  Collector collector(life);
  CallRequest request;
  request.id = id;
  request.env = env;
  std::unique_ptr<CallControl> call = runner.start(collector, std::move(request));
  call->feed(body);
  call->end_input();
  (*loop)->run();
  call.reset();
  if (!collector.outcome) return std::nullopt;
  return std::make_pair(*collector.outcome, std::move(collector.output));
}

// The answer the captured call's contract gives to `o` with `output`.
Verdict verdict_for(const std::string& contract, const CallEnv& env, const std::string& id,
                    const Outcome& o, const std::string& output, const Config& config) {
  if (contract == "funker") {
    std::string json_error;
    if (config.funker_json && o.ok()) json_error = json_value_error(output);
    return funker_verdict(&o, json_error);
  }
  // HOTWRAP_CGI=1: the status and headers the command's own head gives.
  CgiHeadDecoder decoder(config.max_header_bytes);
  const CgiHead* cgi = nullptr;
  if (config.cgi) {
    decoder.feed(output);
    if (decoder.finish() == CgiHeadDecoder::State::Head) cgi = &decoder.head();
  }
  if (contract == "http") return http_call_verdict(&o, cgi, id, config);
  if (contract.starts_with("fn-") && contract != "fn-default") {
    auto intent = env.find("FN_INTENT");
    bool trigger = intent && iequals(*intent, "httprequest");
    return fn_policy(trigger, config)(&o, cgi);
  }
  // The cold format answers with its exit code, and its stdout was not captured.
  Verdict v;
  v.status = o.exit_code();
  v.failed = !o.ok();
  return v;
}

}  // namespace

std::string first_difference(std::string_view expected, std::string_view got) {
  size_t n = std::min(expected.size(), got.size());
  size_t at = 0;
  while (at < n && expected[at] == got[at]) ++at;
  if (at == expected.size() && at == got.size()) return {};
  size_t line = 1 + static_cast<size_t>(std::count(expected.begin(), expected.begin() + at, '\n'));
  auto line_of = [at](std::string_view s) {
    size_t b = s.rfind('\n', at == 0 ? 0 : at - 1);
    b = (b == std::string_view::npos || at == 0) ? 0 : b + 1;
    size_t e = s.find('\n', b);
    return s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
  };
  std::string out = "  body differs at byte " + std::to_string(at) + " (line " +
                    std::to_string(line) + "; " + std::to_string(expected.size()) +
                    " bytes expected, " + std::to_string(got.size()) + " got):\n";
  out += "    expected: " +
         (at < expected.size() ? escaped(line_of(expected)) : std::string("(end of body)")) + "\n";
  out +=
      "    got:      " + (at < got.size() ? escaped(line_of(got)) : std::string("(end of body)")) +
      "\n";
  return out;
}

int run_replay(const ReplayRequest& rq, const Config& config, int signal_fd,
               const char* const* base_env) {
  std::vector<std::string> calls = captures(rq.dir);
  if (calls.empty()) {
    log(Level::Error, {}, "replay: no captured call under %s (HOTWRAP_CAPTURE_DIR writes them)",
        rq.dir.c_str());
    return 2;
  }
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  for (const std::string& dir : calls) {
    std::string name = dir.substr(dir.rfind('/') + 1);
    auto req_text = read_file(dir + "/request.json");
    auto ans_text = read_file(dir + "/answer.json");
    // string_view, as protocols/json_codec.cpp parses: one instantiation of the parser.
    std::string_view req_view = req_text ? std::string_view(*req_text) : std::string_view();
    std::string_view ans_view = ans_text ? std::string_view(*ans_text) : std::string_view();
    json req = json::parse(req_view, nullptr, false);
    json ans = json::parse(ans_view, nullptr, false);
    if (!req.is_object() || !ans.is_object()) {
      std::printf("SKIP %s: request.json or answer.json is missing or not JSON\n", name.c_str());
      ++skipped;
      continue;
    }
    std::string contract = text(req, "contract");
    std::string id = text(req, "id");
    if (flag(req, "body_truncated")) {
      std::printf("SKIP %s: the request body was cut at %lld of %lld bytes\n", name.c_str(),
                  number(req, "body_kept"), number(req, "body_bytes"));
      ++skipped;
      continue;
    }
    bool cold = contract == "fn-default";
    if (!flag(ans, "answered") && !cold) {
      std::printf("SKIP %s: the call was never answered (its caller went away)\n", name.c_str());
      ++skipped;
      continue;
    }
    Config cfg = config;
    if (const json* c = member(req, "command");
        cfg.command.empty() && c != nullptr && c->is_array()) {
      for (const json& a : *c) {
        if (a.is_string()) cfg.command.push_back(a.get<std::string>());
      }
    }
    if (cfg.command.empty()) {
      std::printf("SKIP %s: no command captured and none given (-- command...)\n", name.c_str());
      ++skipped;
      continue;
    }
    CallEnv env;
    if (const json* e = member(req, "env"); e != nullptr && e->is_object()) {
      for (auto it = e->begin(); it != e->end(); ++it) {
        if (it->is_string()) env.add(it.key(), it->get<std::string>());
      }
    }
    std::string body = read_file(dir + "/request.body").value_or("");
    auto run = run_call(cfg, signal_fd, base_env, id, env, body);
    if (!run) {
      std::printf("FAIL %s: the call could not be run\n", name.c_str());
      ++failed;
      continue;
    }
    const auto& [outcome, output] = *run;
    Verdict v = verdict_for(contract, env, id, outcome, output, cfg);
    std::string got = v.output_is_body ? output : v.message;
    long long want_status = number(ans, "status");
    if (cold) {
      const json* o = member(ans, "outcome");
      want_status = o != nullptr ? number(*o, "exit_code", -1) : -1;
    }
    std::string want = read_file(dir + "/answer.body").value_or("");
    auto want_bytes =
        static_cast<size_t>(number(ans, "body_bytes", static_cast<long long>(want.size())));
    bool cut = flag(ans, "body_truncated");

    if (rq.update) {
      uint64_t keep = std::min<uint64_t>(got.size(), config.capture_max_bytes);
      bool ok = write_file(dir + "/answer.json",
                           capture_answer_json(&v, &outcome, output.size(), got.size(), keep)) &&
                (cold || write_file(dir + "/answer.body", std::string_view(got).substr(0, keep)));
      std::printf("%s %s (%s): status %d, %zu bytes\n", ok ? "UPDATED" : "FAIL", name.c_str(),
                  contract.c_str(), v.status, got.size());
      ok ? ++passed : ++failed;
      continue;
    }

    std::string report;
    if (v.status != want_status) {
      report += "  status " + std::to_string(v.status) + ", expected " +
                std::to_string(want_status) + " (the command " + outcome.describe() + ")\n";
    }
    if (!cold) {
      std::string_view g = got;
      if (cut) {
        // Only the kept part can be compared byte for byte; the length says the rest.
        g = g.substr(0, want.size());
        if (got.size() != want_bytes) {
          report += "  body is " + std::to_string(got.size()) + " bytes, expected " +
                    std::to_string(want_bytes) + "\n";
        }
      }
      report += first_difference(want, g);
    }
    if (report.empty()) {
      std::printf("PASS %s (%s): status %d, %zu bytes\n", name.c_str(), contract.c_str(), v.status,
                  got.size());
      ++passed;
    } else {
      std::printf("FAIL %s (%s):\n%s", name.c_str(), contract.c_str(), report.c_str());
      ++failed;
    }
  }
  std::printf("%d calls: %d %s, %d failed, %d skipped\n", passed + failed + skipped, passed,
              rq.update ? "updated" : "passed", failed, skipped);
  std::fflush(stdout);
  return failed != 0 ? 1 : 0;
}

}  // namespace hotwrap
