#include "app/config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "hotwrap/http.hpp"

namespace hotwrap {

namespace {

enum class Kind { Bytes, Count, Ms, Bool, Text, LogLevel, Port, Contract, LogFormat, LambdaEvent };

struct Option {
  const char* flag;  // without the leading "--"
  const char* env;
  Kind kind;
  const char* fallback;  // shown in --help; the struct's initialiser is the real default
  const char* help;
  // Stores a validated value: `n` for the numeric and boolean kinds, `text` for the others.
  void (*set)(Config& c, uint64_t n, std::string_view text);
  // The smallest number accepted: 1 where zero has no meaning (a limit of no headers would
  // start, then refuse every call); where zero is accepted, the help says what it means.
  uint64_t min = 0;
};

// A value as it can be shown on one log line: control bytes escaped.
std::string printable(std::string_view v) {
  std::string out;
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Millis ms(uint64_t n) {
  return Millis(static_cast<int64_t>(n));
}

constexpr Option kOptions[] = {
    {"buffer-bytes", "HOTWRAP_BUFFER_BYTES", Kind::Bytes, "1048576",
     "stdout held before the response is committed; past it the body streams (chunked); 0: "
     "stream from the first byte",
     [](Config& c, uint64_t n, std::string_view) { c.buffer_bytes = n; }},
    {"kill-grace-ms", "HOTWRAP_KILL_GRACE_MS", Kind::Ms, "500",
     "after the deadline's answer (or at shutdown): time between SIGTERM and SIGKILL to the call's "
     "process group",
     [](Config& c, uint64_t n, std::string_view) { c.kill_grace = ms(n); }},
    {"deadline-margin-ms", "HOTWRAP_DEADLINE_MARGIN_MS", Kind::Ms, "200",
     "the 504 is sent this long before Fn-Deadline, so the agent keeps the container",
     [](Config& c, uint64_t n, std::string_view) { c.deadline_margin = ms(n); }},
    {"shutdown-grace-ms", "HOTWRAP_SHUTDOWN_GRACE_MS", Kind::Ms, "5000",
     "after SIGTERM/SIGINT: time a running call gets to finish; 0: none",
     [](Config& c, uint64_t n, std::string_view) { c.shutdown_grace = ms(n); }},
    {"timeout-ms", "HOTWRAP_TIMEOUT_MS", Kind::Ms, "3600000",
     "a call's time limit when the platform sends no deadline, and the cap of one it sends; "
     "0: none",
     [](Config& c, uint64_t n, std::string_view) { c.timeout = ms(n); }},
    {"log-level", "HOTWRAP_LOG_LEVEL", Kind::LogLevel, "info",
     "debug, info, warn or error (any case)",
     [](Config& c, uint64_t, std::string_view t) { parse_level(t, c.log_level); }},
    {"error-detail", "HOTWRAP_ERROR_DETAIL", Kind::Bool, "1",
     "a failed call's answer carries the last lines of its stderr (0 for images whose stderr "
     "may hold secrets)",
     [](Config& c, uint64_t n, std::string_view) { c.error_detail = n == 1; }},
    {"log-calls", "HOTWRAP_LOG_CALLS", Kind::Bool, "0",
     "1: a summary line for every call (status, exit, duration, bytes), not only failed ones",
     [](Config& c, uint64_t n, std::string_view) { c.log_calls = n == 1; }},
    {"stderr-prefix", "HOTWRAP_STDERR_PREFIX", Kind::Bool, "1",
     "prefix each line a call's command writes to stderr with \"[<call id>] \"",
     [](Config& c, uint64_t n, std::string_view) { c.stderr_prefix = n == 1; }},
    {"content-type", "HOTWRAP_CONTENT_TYPE", Kind::Text, "application/octet-stream",
     "Content-Type of successful responses",
     [](Config& c, uint64_t, std::string_view t) { c.content_type = t; }},
    {"max-header-bytes", "HOTWRAP_MAX_HEADER_BYTES", Kind::Bytes, "65536",
     "request header block limit (431)",
     [](Config& c, uint64_t n, std::string_view) { c.max_header_bytes = n; }, 1},
    {"max-headers", "HOTWRAP_MAX_HEADERS", Kind::Count, "200", "request header count limit (431)",
     [](Config& c, uint64_t n, std::string_view) { c.max_headers = n; }, 1},
    {"max-url-bytes", "HOTWRAP_MAX_URL_BYTES", Kind::Bytes, "8192", "request URL limit (414)",
     [](Config& c, uint64_t n, std::string_view) { c.max_url_bytes = n; }, 1},
    {"max-body-bytes", "HOTWRAP_MAX_BODY_BYTES", Kind::Bytes, "0",
     "request body limit, 0 for none (413)",
     [](Config& c, uint64_t n, std::string_view) { c.max_body_bytes = n; }},
    {"max-connections", "HOTWRAP_MAX_CONNECTIONS", Kind::Count, "64",
     "connections served at once; more wait in the listen queue",
     [](Config& c, uint64_t n, std::string_view) { c.max_connections = n; }, 1},
    {"prespawn", "HOTWRAP_PRESPAWN", Kind::Bool, "0",
     "1: start the next command process before its call arrives (see README)",
     [](Config& c, uint64_t n, std::string_view) { c.prespawn = n == 1; }},
    {"contract", "HOTWRAP_CONTRACT", Kind::Contract, "from the environment",
     "fn, http, lambda or funker; unset: lambda if AWS_LAMBDA_RUNTIME_API is set, fn if FN_FORMAT "
     "or FN_LISTENER is, http if PORT, K_SERVICE or fprocess is, else Fn's cold default format",
     [](Config& c, uint64_t, std::string_view t) { c.contract = t; }},
    {"port", "HOTWRAP_PORT", Kind::Port, "$PORT, else 8080 (funker: 9999)",
     "TCP port of the http and funker contracts, on every interface",
     [](Config& c, uint64_t n, std::string_view) { c.port = static_cast<uint16_t>(n); }, 1},
    {"max-inflight", "HOTWRAP_MAX_INFLIGHT", Kind::Count, "0",
     "calls served at once; more are answered 429 and /_/ready says 429; 0: no limit",
     [](Config& c, uint64_t n, std::string_view) { c.max_inflight = n; }},
    {"drain-ms", "HOTWRAP_DRAIN_MS", Kind::Ms, "3000",
     "http contract, after SIGTERM: health turns 503 at once, new calls are still served this "
     "long (the platform is still routing to us), then the listener closes",
     [](Config& c, uint64_t n, std::string_view) { c.drain = ms(n); }},
    {"metrics-port", "HOTWRAP_METRICS_PORT", Kind::Port, "8081 in the http contract, else off",
     "TCP port of the Prometheus metrics (GET /metrics); 0: off",
     [](Config& c, uint64_t n, std::string_view) { c.metrics_port = static_cast<int>(n); }},
    {"log-format", "HOTWRAP_LOG_FORMAT", Kind::LogFormat, "text",
     "text, or json: every log line one JSON object (severity, message, time, call_id, Cloud "
     "Logging's trace field), the command's stderr lines included",
     [](Config& c, uint64_t, std::string_view t) {
       c.log_format = t == "json" ? LogFormat::Json : LogFormat::Text;
     }},
    {"trace-project", "HOTWRAP_TRACE_PROJECT", Kind::Text, "$GOOGLE_CLOUD_PROJECT",
     "with json logs: the Google Cloud project id that puts a call's trace (traceparent or "
     "X-Cloud-Trace-Context) on its lines as logging.googleapis.com/trace",
     [](Config& c, uint64_t, std::string_view t) { c.trace_project = t; }},
    {"funker-oneshot", "HOTWRAP_FUNKER_ONESHOT", Kind::Bool, "0",
     "funker contract: serve one call, then exit with the command's status (Funker's own "
     "handlers' behaviour); 0: serve every connection",
     [](Config& c, uint64_t n, std::string_view) { c.funker_oneshot = n == 1; }},
    {"funker-json", "HOTWRAP_FUNKER_JSON", Kind::Bool, "0",
     "funker contract: answer only a stdout that is one JSON value; otherwise close with no "
     "bytes and log why",
     [](Config& c, uint64_t n, std::string_view) { c.funker_json = n == 1; }},
    {"capture-dir", "HOTWRAP_CAPTURE_DIR", Kind::Text, "unset (off)",
     "write each call's request and answer under this directory, for `hotwrap replay` (request "
     "bodies may hold secrets)",
     [](Config& c, uint64_t, std::string_view t) { c.capture_dir = t; }},
    {"capture-max-bytes", "HOTWRAP_CAPTURE_MAX_BYTES", Kind::Bytes, "1048576",
     "capture: a call's request and answer bodies together keep at most this much; the rest "
     "is cut and marked",
     [](Config& c, uint64_t n, std::string_view) { c.capture_max_bytes = n; }},
    {"capture-total-bytes", "HOTWRAP_CAPTURE_TOTAL_BYTES", Kind::Bytes, "67108864",
     "capture: the directory's budget; the oldest calls are removed first",
     [](Config& c, uint64_t n, std::string_view) { c.capture_total_bytes = n; }, 1},
    {"cgi", "HOTWRAP_CGI", Kind::Bool, "0",
     "1: the command may begin its output with a CGI header block (Status, Content-Type, "
     "Location, ...) and gets the CGI request variables (see README)",
     [](Config& c, uint64_t n, std::string_view) { c.cgi = n == 1; }},
    {"lambda-stream", "HOTWRAP_LAMBDA_STREAM", Kind::Bool, "0",
     "lambda: stream every answer (Lambda-Runtime-Function-Response-Mode: streaming); 0: only "
     "those over the 6 MB buffered limit",
     [](Config& c, uint64_t n, std::string_view) { c.lambda_stream = n == 1; }},
    {"lambda-event", "HOTWRAP_LAMBDA_EVENT", Kind::LambdaEvent, "auto",
     "lambda: auto (API Gateway and function URL events by their shape), raw (every event as it "
     "is on stdin) or http (every event is an HTTP event)",
     [](Config& c, uint64_t, std::string_view t) { c.lambda_event = t; }},
};

// OpenFaaS's watchdog settings an image converted from it keeps: honoured when hotwrap's own
// variable is not set. Durations in seconds or as Go durations (30s, 1m30s, 500ms).
struct Watchdog {
  const char* name;
  const char* ours;
};
constexpr Watchdog kWatchdog[] = {
    {"exec_timeout", "HOTWRAP_TIMEOUT_MS"},
    {"max_inflight", "HOTWRAP_MAX_INFLIGHT"},
    // of-watchdog waits up to write_timeout for calls in flight at shutdown,
    {"write_timeout", "HOTWRAP_SHUTDOWN_GRACE_MS"},
    // and keeps serving for healthcheck_interval after SIGTERM.
    {"healthcheck_interval", "HOTWRAP_DRAIN_MS"},
};

std::string error_for(const Option& o, std::string_view value, const std::string& why) {
  return "invalid value '" + printable(value) + "' for --" + o.flag + " / " + o.env + ": " + why;
}

// The largest value of each numeric kind: a day for times (a typo in a unit must not become a
// call that may run for years).
uint64_t max_of(Kind k) {
  if (k == Kind::Port) return 65535;
  return k == Kind::Ms ? 86'400'000 : UINT64_MAX;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// 1/0, true/false, yes/no, on/off, any case; nullopt for anything else.
std::optional<bool> parse_switch(std::string_view text) {
  std::string t = lowered(text);
  if (t == "1" || t == "true" || t == "yes" || t == "on") return true;
  if (t == "0" || t == "false" || t == "no" || t == "off") return false;
  return std::nullopt;
}

// Applies one option's value to the config; returns an error line or empty.
std::string apply(const Option& o, std::string_view value, Config& c) {
  uint64_t n = 0;
  std::string text(value);
  switch (o.kind) {
    case Kind::Bytes:
    case Kind::Count:
    case Kind::Port:
    case Kind::Ms: {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      bool digits = !value.empty() && end == value.data() + value.size();
      if (digits && (ec == std::errc::result_out_of_range || n > max_of(o.kind))) {
        return error_for(o, value, "too large (max " + std::to_string(max_of(o.kind)) + ")");
      }
      if (!digits || ec != std::errc()) {
        return error_for(o, value,
                         o.kind == Kind::Ms ? "expected a whole number of milliseconds"
                                            : "expected a whole number");
      }
      if (n < o.min) return error_for(o, value, "must be at least " + std::to_string(o.min));
      break;
    }
    case Kind::Bool: {
      auto b = parse_switch(value);
      if (!b) return error_for(o, value, "expected 1/0, true/false, yes/no or on/off");
      n = *b ? 1 : 0;
      break;
    }
    case Kind::LogLevel: {
      Level level;
      text = lowered(value);
      if (!parse_level(text, level)) {
        return error_for(o, value, "expected debug, info, warn or error");
      }
      break;
    }
    case Kind::LogFormat:
      text = lowered(value);
      if (text != "text" && text != "json") return error_for(o, value, "expected text or json");
      break;
    case Kind::Contract:
      text = lowered(value);
      if (text != "fn" && text != "http" && text != "lambda" && text != "funker") {
        return error_for(o, value, "expected fn, http, lambda or funker");
      }
      break;
    case Kind::LambdaEvent:
      text = lowered(value);
      if (text != "auto" && text != "raw" && text != "http") {
        return error_for(o, value, "expected auto, raw or http");
      }
      break;
    case Kind::Text:
      // It goes on every response as a header value: CR or LF would let it inject headers.
      if (!valid_header_value(value)) {
        return error_for(o, value, "a header value cannot hold CR, LF or other control bytes");
      }
      break;
  }
  o.set(c, n, text);
  return {};
}

// A watchdog duration: whole seconds ("30"), or a Go duration ("30s", "1m30s", "1.5s", "500ms").
std::optional<uint64_t> parse_duration_ms(std::string_view t) {
  uint64_t secs = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), secs);
  if (!t.empty() && ec == std::errc() && end == t.data() + t.size()) {
    if (secs > 86'400) return std::nullopt;
    return secs * 1000;
  }
  double total = 0;
  size_t i = 0;
  while (i < t.size()) {
    size_t start = i;
    double whole = 0;
    double scale = 1;
    bool fraction = false;
    while (i < t.size() && ((t[i] >= '0' && t[i] <= '9') || (t[i] == '.' && !fraction))) {
      if (t[i] == '.') {
        fraction = true;
      } else if (fraction) {
        scale /= 10;
        whole += (t[i] - '0') * scale;
      } else {
        whole = whole * 10 + (t[i] - '0');
      }
      ++i;
    }
    if (i == start || (i == start + 1 && fraction)) return std::nullopt;
    size_t u = i;
    while (i < t.size() && !(t[i] >= '0' && t[i] <= '9') && t[i] != '.') ++i;
    std::string_view unit = t.substr(u, i - u);
    double per = 0;
    if (unit == "h")
      per = 3'600'000;
    else if (unit == "m")
      per = 60'000;
    else if (unit == "s")
      per = 1000;
    else if (unit == "ms")
      per = 1;
    else if (unit == "us" || unit == "\u00b5s")
      per = 0.001;
    else if (unit == "ns")
      per = 0.000001;
    else
      return std::nullopt;
    total += whole * per;
    if (total > 86'400'000) return std::nullopt;
  }
  if (t.empty()) return std::nullopt;
  return static_cast<uint64_t>(std::llround(total));
}

const Option* find_env(std::string_view name) {
  for (const Option& o : kOptions) {
    if (name == o.env) return &o;
  }
  return nullptr;
}

// The watchdog's settings, where hotwrap's own are unset.
std::string apply_watchdog(Config& c, const char* (*getenv_fn)(const char*)) {
  for (const Watchdog& w : kWatchdog) {
    const char* v = getenv_fn(w.name);
    const char* ours = getenv_fn(w.ours);
    if (v == nullptr || *v == '\0' || (ours != nullptr && *ours != '\0')) continue;
    const Option* o = find_env(w.ours);
    std::string value = v;
    if (o->kind == Kind::Ms) {
      auto d = parse_duration_ms(v);
      if (!d) {
        return "invalid value '" + printable(v) + "' for " + w.name +
               " (OpenFaaS's watchdog setting, read as " + w.ours +
               "): expected seconds or a Go duration such as 30s, 1m30s or 500ms";
      }
      value = std::to_string(*d);
    }
    if (auto err = apply(*o, value, c); !err.empty()) {
      return err + " (from " + w.name + "=" + printable(v) + ")";
    }
  }
  return {};
}

// OpenFaaS's command: fprocess (function_process wins, as in of-watchdog), split on whitespace,
// no shell.
std::vector<std::string> watchdog_command(const char* (*getenv_fn)(const char*)) {
  const char* v = getenv_fn("function_process");
  if (v == nullptr || *v == '\0') v = getenv_fn("fprocess");
  std::vector<std::string> argv;
  if (v == nullptr) return argv;
  std::string_view rest = v;
  while (!rest.empty()) {
    size_t b = rest.find_first_not_of(" \t\n");
    if (b == std::string_view::npos) break;
    rest.remove_prefix(b);
    size_t e = rest.find_first_of(" \t\n");
    argv.emplace_back(rest.substr(0, e));
    rest.remove_prefix(e == std::string_view::npos ? rest.size() : e);
  }
  return argv;
}

const Option* find_flag(std::string_view name) {
  for (const Option& o : kOptions) {
    if (name == o.flag) return &o;
  }
  return nullptr;
}

}  // namespace

std::expected<Parsed, std::string> parse_config(int argc, const char* const* argv,
                                                const char* (*getenv_fn)(const char*)) {
  Parsed p;
  for (const Option& o : kOptions) {
    if (const char* v = getenv_fn(o.env); v != nullptr && *v != '\0') {
      if (auto err = apply(o, v, p.config); !err.empty()) return std::unexpected(err);
    }
  }
  if (auto err = apply_watchdog(p.config, getenv_fn); !err.empty()) return std::unexpected(err);
  if (argc > 1 && std::string_view(argv[1]) == "replay") {
    // hotwrap replay DIR [--update] [-- command...]
    p.action = Action::Replay;
    int j = 2;
    for (; j < argc && std::string_view(argv[j]) != "--"; ++j) {
      std::string_view a = argv[j];
      if (a == "--update") {
        p.replay_update = true;
      } else if (!a.starts_with("-") && p.replay_dir.empty()) {
        p.replay_dir = a;
      } else {
        return std::unexpected("replay: unexpected '" + std::string(a) +
                               "'; usage: hotwrap replay DIR [--update] [-- command...]");
      }
    }
    if (p.replay_dir.empty()) {
      return std::unexpected(std::string(
          "replay: which capture? usage: hotwrap replay DIR [--update] [-- command...]"));
    }
    for (++j; j < argc; ++j) p.config.command.emplace_back(argv[j]);
    return p;
  }
  int i = 1;
  for (; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (!arg.starts_with("-")) break;  // the command starts here
    if (arg == "-h" || arg == "--help") {
      p.action = Action::Help;
      return p;
    }
    if (arg == "-V" || arg == "--version") {
      p.action = Action::Version;
      return p;
    }
    if (arg == "--licenses") {
      p.action = Action::Licenses;
      return p;
    }
    if (!arg.starts_with("--")) {
      return std::unexpected("unknown option '" + std::string(arg) + "' (see hotwrap --help)");
    }
    std::string_view name = arg.substr(2);
    std::string_view value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Option* o = find_flag(name);
    if (o == nullptr) {
      return std::unexpected("unknown option '--" + std::string(name) + "' (see hotwrap --help)");
    }
    if (!has_value) {
      if (o->kind == Kind::Bool) {
        // `--prespawn` alone means on; `--prespawn 1 rev` takes the 1 as its value (only when a
        // command still follows, so that `hotwrap --prespawn true` still runs `true`).
        value = "1";
        if (i + 2 < argc && parse_switch(argv[i + 1])) value = argv[++i];
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return std::unexpected("option --" + std::string(name) + " needs a value");
      }
    }
    if (auto err = apply(*o, value, p.config); !err.empty()) return std::unexpected(err);
  }
  for (; i < argc; ++i) p.config.command.emplace_back(argv[i]);
  // An image made from OpenFaaS's templates keeps CMD ["fwatchdog"] when only its ENTRYPOINT
  // becomes hotwrap: the command is then the one the watchdog would have run.
  std::vector<std::string>& cmd = p.config.command;
  bool watchdog_cmd = cmd.size() == 1 && (cmd[0] == "fwatchdog" || cmd[0].ends_with("/fwatchdog"));
  if (cmd.empty() || watchdog_cmd) {
    if (auto fp = watchdog_command(getenv_fn); !fp.empty()) cmd = std::move(fp);
  }
  if (p.config.command.empty()) {
    return std::unexpected(
        "no command to run: give it after the options (hotwrap [options] command [args...]); in a "
        "Dockerfile keep ENTRYPOINT [\"/hotwrap\"] and put the command in CMD (or, as with "
        "OpenFaaS's watchdog, in the fprocess variable)");
  }
  return p;
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Names other wrappers read that hotwrap does not, and what does the same here.
struct Foreign {
  const char* name;
  const char* instead;
};
constexpr Foreign kForeign[] = {
    {"FN_HOTWRAP_VERBOSE", "fnproject/hotwrap's switch; here: HOTWRAP_LOG_LEVEL=debug"},
    {"write_debug", "OpenFaaS's; here: HOTWRAP_LOG_LEVEL=debug"},
    {"prefix_logs", "OpenFaaS's; here: HOTWRAP_STDERR_PREFIX"},
};

}  // namespace

std::vector<std::string> config_warnings(const char* const* envp) {
  std::vector<std::string> out;
  for (const char* const* e = envp; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv = *e;
    std::string_view name = kv.substr(0, kv.find('='));
    for (const Foreign& f : kForeign) {
      if (name == f.name) out.push_back(std::string(name) + " is ignored: it is " + f.instead);
    }
    if (!name.starts_with("HOTWRAP_")) continue;
    // What hotwrap itself hands a command (a hotwrap inside a hotwrap sees them).
    if (name == "HOTWRAP_CALL_ENV_FILE" || name == "HOTWRAP_CALL_ID" || name == "HOTWRAP_DEADLINE")
      continue;
    const Option* best = nullptr;
    size_t best_d = SIZE_MAX;
    for (const Option& o : kOptions) {
      size_t d = edit_distance(name, o.env);
      if (d < best_d) {
        best = &o;
        best_d = d;
      }
    }
    if (best_d == 0) continue;
    out.push_back("unknown variable " + std::string(name) + " is ignored; did you mean " +
                  best->env + "? (hotwrap --help lists them all)");
  }
  return out;
}

std::string help_text() {
  std::string s =
      "usage: hotwrap [options] [--] command [args...]\n"
      "       hotwrap replay DIR [--update] [-- command...]   (see HOTWRAP_CAPTURE_DIR)\n"
      "\n"
      "Runs `command` once per call: the request body on its stdin, its stdout as the\n"
      "response, its stderr in the log. HOTWRAP_CONTRACT (or the platform's environment)\n"
      "selects the contract: fn (FN_FORMAT: http-stream, json, http or default), http\n"
      "(OpenFaaS, Knative, Cloud Run), lambda (AWS Lambda's Runtime API) or funker.\n"
      "\n"
      "options (flag, environment variable, default):\n";
  for (const Option& o : kOptions) {
    std::string flag = std::string("  --") + o.flag + (o.kind == Kind::Bool ? "[=1|0]" : "=VALUE");
    s += flag;
    s.append(flag.size() < 30 ? 30 - flag.size() : 1, ' ');
    s += std::string(o.env) + " (default " + o.fallback + ")\n      " + o.help + "\n";
  }
  s += "  -h, --help                  this text\n"
       "  -V, --version               the version, commit and architecture\n"
       "  --licenses                  the licences of hotwrap and of the libraries in it\n";
  return s;
}

}  // namespace hotwrap
