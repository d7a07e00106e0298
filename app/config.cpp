#include "app/config.hpp"

#include <charconv>
#include <cstring>
#include <string_view>

namespace hotwrap {

namespace {

enum class Kind { Bytes, Count, Ms, Bool, Text, LogLevel };

struct Option {
  const char* flag;  // without the leading "--"
  const char* env;
  Kind kind;
  const char* fallback;  // shown in --help; the struct's initialiser is the real default
  const char* help;
  // Stores a validated value: `n` for the numeric and boolean kinds, `text` for the others.
  void (*set)(Config& c, uint64_t n, std::string_view text);
};

Millis ms(uint64_t n) {
  return Millis(static_cast<int64_t>(n));
}

constexpr Option kOptions[] = {
    {"buffer-bytes", "HOTWRAP_BUFFER_BYTES", Kind::Bytes, "1048576",
     "stdout held before the response is committed; past it the body streams (chunked)",
     [](Config& c, uint64_t n, std::string_view) { c.buffer_bytes = n; }},
    {"kill-grace-ms", "HOTWRAP_KILL_GRACE_MS", Kind::Ms, "500",
     "after the deadline's answer (or at shutdown): time between SIGTERM and SIGKILL to the call's "
     "process group",
     [](Config& c, uint64_t n, std::string_view) { c.kill_grace = ms(n); }},
    {"deadline-margin-ms", "HOTWRAP_DEADLINE_MARGIN_MS", Kind::Ms, "200",
     "the 504 is sent this long before Fn-Deadline, so the agent keeps the container",
     [](Config& c, uint64_t n, std::string_view) { c.deadline_margin = ms(n); }},
    {"shutdown-grace-ms", "HOTWRAP_SHUTDOWN_GRACE_MS", Kind::Ms, "5000",
     "after SIGTERM/SIGINT: time a running call gets to finish",
     [](Config& c, uint64_t n, std::string_view) { c.shutdown_grace = ms(n); }},
    {"timeout-ms", "HOTWRAP_TIMEOUT_MS", Kind::Ms, "3600000",
     "a call's time limit when the platform sends no deadline, and the cap of one it sends; "
     "0: none",
     [](Config& c, uint64_t n, std::string_view) { c.timeout = ms(n); }},
    {"log-level", "HOTWRAP_LOG_LEVEL", Kind::LogLevel, "info", "debug, info, warn or error",
     [](Config& c, uint64_t, std::string_view t) { parse_level(t, c.log_level); }},
    {"stderr-prefix", "HOTWRAP_STDERR_PREFIX", Kind::Bool, "0",
     "1: prefix each stderr line of the command with \"[<call id>] \"",
     [](Config& c, uint64_t n, std::string_view) { c.stderr_prefix = n == 1; }},
    {"content-type", "HOTWRAP_CONTENT_TYPE", Kind::Text, "application/octet-stream",
     "Content-Type of successful responses",
     [](Config& c, uint64_t, std::string_view t) { c.content_type = t; }},
    {"max-header-bytes", "HOTWRAP_MAX_HEADER_BYTES", Kind::Bytes, "65536",
     "request header block limit (431)",
     [](Config& c, uint64_t n, std::string_view) { c.max_header_bytes = n; }},
    {"max-headers", "HOTWRAP_MAX_HEADERS", Kind::Count, "200", "request header count limit (431)",
     [](Config& c, uint64_t n, std::string_view) { c.max_headers = n; }},
    {"max-url-bytes", "HOTWRAP_MAX_URL_BYTES", Kind::Bytes, "8192", "request URL limit (414)",
     [](Config& c, uint64_t n, std::string_view) { c.max_url_bytes = n; }},
    {"max-body-bytes", "HOTWRAP_MAX_BODY_BYTES", Kind::Bytes, "0",
     "request body limit, 0 for none (413)",
     [](Config& c, uint64_t n, std::string_view) { c.max_body_bytes = n; }},
    {"max-connections", "HOTWRAP_MAX_CONNECTIONS", Kind::Count, "64",
     "connections served at once; more wait in the listen queue",
     [](Config& c, uint64_t n, std::string_view) { c.max_connections = n == 0 ? 1 : n; }},
    {"prespawn", "HOTWRAP_PRESPAWN", Kind::Bool, "0",
     "1: start the next command process before its call arrives (see README)",
     [](Config& c, uint64_t n, std::string_view) { c.prespawn = n == 1; }},
};

std::string error_for(const Option& o, std::string_view value, const char* why) {
  return std::string("invalid value '") + std::string(value) + "' for --" + o.flag + " / " + o.env +
         ": " + why;
}

bool parse_uint(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Applies one option's value to the config; returns an error line or empty.
std::string apply(const Option& o, std::string_view value, Config& c) {
  uint64_t n = 0;
  switch (o.kind) {
    case Kind::Bytes:
    case Kind::Count:
    case Kind::Ms:
      if (!parse_uint(value, n)) return error_for(o, value, "expected a whole number");
      if (o.kind == Kind::Ms && n > 86'400'000) return error_for(o, value, "at most one day");
      break;
    case Kind::Bool:
      if (value != "0" && value != "1") return error_for(o, value, "expected 0 or 1");
      n = value == "1" ? 1 : 0;
      break;
    case Kind::LogLevel: {
      Level level;
      if (!parse_level(value, level)) {
        return error_for(o, value, "expected debug, info, warn or error");
      }
      break;
    }
    case Kind::Text: break;
  }
  o.set(c, n, value);
  return {};
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
        value = "1";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return std::unexpected("option --" + std::string(name) + " needs a value");
      }
    }
    if (auto err = apply(*o, value, p.config); !err.empty()) return std::unexpected(err);
  }
  for (; i < argc; ++i) p.config.command.emplace_back(argv[i]);
  if (p.config.command.empty()) {
    return std::unexpected(
        "no command to run: give it after the options (hotwrap [options] command [args...]); in a "
        "Dockerfile keep ENTRYPOINT [\"/hotwrap\"] and put the command in CMD");
  }
  return p;
}

std::string help_text() {
  std::string s =
      "usage: hotwrap [options] [--] command [args...]\n"
      "\n"
      "Runs `command` once per Fn call: the request body on its stdin, its stdout as the\n"
      "response, its stderr in the log. FN_FORMAT selects the contract: http-stream (or\n"
      "FN_LISTENER set), json, http, or default (one call on stdin/stdout, also when unset).\n"
      "\n"
      "options (flag, environment variable, default):\n";
  for (const Option& o : kOptions) {
    std::string flag = std::string("  --") + o.flag + (o.kind == Kind::Bool ? "[=0|1]" : "=VALUE");
    s += flag;
    s.append(flag.size() < 30 ? 30 - flag.size() : 1, ' ');
    s += std::string(o.env) + " (default " + o.fallback + ")\n      " + o.help + "\n";
  }
  s += "  -h, --help                  this text\n  -V, --version               the version\n";
  return s;
}

}  // namespace hotwrap
