#include "app/platform.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>

#include "hotwrap/log.hpp"
#include "hotwrap/net.hpp"
#include "protocols/funker.hpp"
#include "protocols/http_contract.hpp"
#include "protocols/http_metrics.hpp"
#include "protocols/lambda.hpp"
#include "transports/listener.hpp"
#include "transports/stdio.hpp"
#include "transports/unix_socket.hpp"

namespace hotwrap {

namespace {

FnContext fn_context(Runner& runner, CallStarter& calls, const Config& config, Getenv getenv_fn) {
  return FnContext{runner.loop(), calls, config,
                   LogFrame(getenv_fn("FN_LOGFRAME_NAME"), getenv_fn("FN_LOGFRAME_HDR")),
                   fdk_headers(config)};
}

// Fn http-stream: the agent's unix socket, announced by its symlink.
class FnStreamPlatform final : public Platform {
 public:
  FnStreamPlatform(FnContext fn, AnnouncedUnixSocket socket, Lifecycle& life)
      : fn_(std::move(fn)),
        socket_(std::move(socket)),
        life_(life),
        listener_(fn_.loop, socket_.take_listener(), fn_.config.max_connections,
                  fn_stream_connections(fn_)) {
    listener_.start();
  }
  void drain() override {
    socket_.release_files();  // nobody new can connect; the agent sees the function go
    listener_.drain([this] { life_.done(0); });
  }

 private:
  FnContext fn_;
  AnnouncedUnixSocket socket_;
  Lifecycle& life_;
  Listener listener_;  // declared last: its connections go before what they use
};

// The hot legacy formats over hotwrap's own stdin and stdout.
class FnStdioPlatform final : public Platform {
 public:
  explicit FnStdioPlatform(FnContext fn) : fn_(std::move(fn)) {}
  std::expected<void, std::string> start(PlatformChoice::Kind kind, Lifecycle& life) {
    // A hot call's stderr is a pipe to hotwrap, never hotwrap's own (possibly now non-blocking)
    // stderr, so the command gets a blocking one whatever stdio_ did.
    if (auto r = stdio_.apply(); !r) return std::unexpected(r.error());
    protocol_ = kind == PlatformChoice::Kind::FnJson
                    ? make_fn_json(fn_, life, STDIN_FILENO, STDOUT_FILENO)
                    : make_fn_http(fn_, life, STDIN_FILENO, STDOUT_FILENO);
    return {};
  }
  void drain() override { protocol_->drain(); }

 private:
  FnContext fn_;
  StdioNonBlocking stdio_;  // declared before the protocol: the flags come back after it is gone
  std::unique_ptr<Protocol> protocol_;
};

// The cold default format: one call on hotwrap's own stdio.
class FnDefaultPlatform final : public Platform {
 public:
  FnDefaultPlatform(FnContext fn, Lifecycle& life, Getenv getenv_fn) : fn_(std::move(fn)) {
    // The agent put the call's id and deadline in the container's environment.
    const char* id = getenv_fn("FN_CALL_ID");
    const char* deadline = getenv_fn("FN_DEADLINE");
    protocol_ = make_fn_default(fn_, life, id != nullptr ? id : "",
                                deadline != nullptr && *deadline != '\0'
                                    ? std::optional<std::string>(deadline)
                                    : std::nullopt);
  }
  void drain() override { protocol_->drain(); }
  bool signals_are_the_commands() const override { return true; }

 private:
  FnContext fn_;
  std::unique_ptr<Protocol> protocol_;
};

// OpenFaaS's lock file: $TMPDIR/.lock (else /tmp/.lock), there while hotwrap serves; the
// watchdog's probes and the template's HEALTHCHECK test for it. Removed at SIGTERM, or when
// hotwrap goes.
class LockFile {
 public:
  explicit LockFile(Getenv getenv_fn) {
    const char* dir = getenv_fn("TMPDIR");
    path_ = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/.lock";
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0660);
    if (fd < 0) {
      // A read-only root without a /tmp volume: the HTTP health check still works.
      log(Level::Warn, {}, "cannot write the lock file %s (%s); /_/health still answers",
          path_.c_str(), std::strerror(errno));
      path_.clear();
      return;
    }
    ::close(fd);
  }
  ~LockFile() { remove(); }
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  void remove() {
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
  }

 private:
  std::string path_;
};

// The http contract on a TCP port (OpenFaaS, Knative, Cloud Run).
class HttpPlatform final : public Platform {
 public:
  HttpPlatform(Runner& runner, CallStarter& calls, const Config& config, Lifecycle& life,
               UniqueFd listen_fd, Getenv getenv_fn, Registry* metrics)
      : config_(config),
        life_(life),
        observer_(metrics != nullptr ? std::make_unique<HttpMetrics>(*metrics) : nullptr),
        service_(calls, config, observer_.get()),
        listener_(runner.loop(), std::move(listen_fd), config.max_connections,
                  service_.connections()),
        lock_(getenv_fn) {
    listener_.start();
  }
  Millis begin_stopping() override {
    service_.stop_announcing();
    lock_.remove();
    return config_.drain;
  }
  void drain() override {
    listener_.drain([this] { life_.done(0); });
  }

 private:
  const Config& config_;
  Lifecycle& life_;
  std::unique_ptr<HttpMetrics> observer_;  // the http_* series, when metrics are served
  HttpService service_;
  Listener listener_;  // after the service: its connections go before the state they use
  LockFile lock_;      // written once the listener is there
};

// The funker contract on a TCP port (Funker's 9999). Unlike Funker's own handlers it serves every
// connection; HOTWRAP_FUNKER_ONESHOT=1 keeps their one call, then exit with the command's status.
class FunkerPlatform final : public Platform {
 public:
  FunkerPlatform(Runner& runner, CallStarter& calls, const Config& config, Lifecycle& life,
                 UniqueFd listen_fd)
      : life_(life),
        service_(calls, config),
        listener_(runner.loop(), std::move(listen_fd),
                  config.funker_oneshot ? 1 : config.max_connections, connections(config)),
        stop_listening_(runner.loop(), [this] { drain(); }) {
    listener_.start();
  }
  void drain() override {
    listener_.drain([this] { life_.done(oneshot_done_ ? service_.last_exit_code() : 0); });
  }

 private:
  Listener::Factory connections(const Config& config) {
    Listener::Factory make = service_.connections();
    if (!config.funker_oneshot) return make;
    // One connection, then the listener closes (as Funker's handlers stop listening) and hotwrap
    // exits once it is answered.
    return [this, make](UniqueFd fd, Listener& l) {
      oneshot_done_ = true;
      stop_listening_.start(std::chrono::microseconds(0));
      return make(std::move(fd), l);
    };
  }

  Lifecycle& life_;
  FunkerService service_;
  bool oneshot_done_ = false;
  Listener listener_;  // after the service: its connections go before the state they use
  Timer stop_listening_;
};

// AWS Lambda: the Runtime API's /next loops over an outbound HTTP client.
class LambdaPlatform final : public Platform {
 public:
  LambdaPlatform(Runner& runner, CallStarter& calls, const Config& config, Lifecycle& life,
                 LambdaOptions options)
      : runtime_(runner.loop(), calls, config, life, std::move(options)) {}
  void start() { runtime_.start(); }
  void init_error(const std::string& message, int exit_code) {
    runtime_.init_error(message, exit_code);
  }
  void drain() override { runtime_.drain(); }

 private:
  LambdaRuntime runtime_;
};

// A platform's number: digits only, from 1 to `max`; nullopt for anything else.
std::optional<unsigned> number_from_1(std::string_view t, unsigned max) {
  unsigned n = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
  if (ec != std::errc() || end != t.data() + t.size() || n == 0 || n > max) return std::nullopt;
  return n;
}

// AWS_LAMBDA_RUNTIME_API (host:port) and AWS_LAMBDA_MAX_CONCURRENCY.
std::expected<PlatformChoice, std::string> choose_lambda(Getenv getenv_fn) {
  const char* api = getenv_fn("AWS_LAMBDA_RUNTIME_API");
  if (api == nullptr || *api == '\0') {
    return std::unexpected(std::string(
        "the lambda contract needs AWS_LAMBDA_RUNTIME_API=host:port (Lambda sets it; a local "
        "emulator's is e.g. 127.0.0.1:9001)"));
  }
  auto hp = parse_host_port(api);
  if (!hp)
    return std::unexpected("AWS_LAMBDA_RUNTIME_API='" + std::string(api) + "': " + hp.error());
  PlatformChoice c;
  c.kind = PlatformChoice::Kind::Lambda;
  c.host = hp->host;
  c.port = hp->port;
  if (const char* m = getenv_fn("AWS_LAMBDA_MAX_CONCURRENCY"); m != nullptr && *m != '\0') {
    auto n = number_from_1(m, 1024);
    if (!n) {
      return std::unexpected("AWS_LAMBDA_MAX_CONCURRENCY='" + std::string(m).substr(0, 32) +
                             "' is not a number from 1 to 1024");
    }
    c.concurrency = *n;
  }
  return c;
}

// HOTWRAP_PORT, else $PORT, else `fallback`.
std::expected<uint16_t, std::string> tcp_port(const Config& config, Getenv getenv_fn,
                                              uint16_t fallback) {
  if (config.port != 0) return config.port;
  const char* p = getenv_fn("PORT");
  if (p == nullptr || *p == '\0') return fallback;
  auto n = number_from_1(p, 65535);
  if (!n) {
    return std::unexpected("PORT='" + std::string(p).substr(0, 32) +
                           "' is not a TCP port (1-65535); set PORT or HOTWRAP_PORT to one");
  }
  return static_cast<uint16_t>(*n);
}

std::expected<PlatformChoice, std::string> choose_fn(Getenv getenv_fn);

bool set(Getenv getenv_fn, const char* name) {
  const char* v = getenv_fn(name);
  return v != nullptr && *v != '\0';
}

}  // namespace

std::expected<PlatformChoice, std::string> choose_platform(Getenv getenv_fn, const Config& config) {
  std::string contract = config.contract;
  // Fn's variables win over PORT: an Fn image may well set PORT for its own use. Nothing set at
  // all: Fn's cold default format, so `echo hi | docker run -i image` works.
  bool fn = set(getenv_fn, "FN_FORMAT") || set(getenv_fn, "FN_LISTENER");
  bool http = set(getenv_fn, "PORT") || set(getenv_fn, "K_SERVICE") || set(getenv_fn, "fprocess") ||
              set(getenv_fn, "function_process");
  if (contract.empty()) {
    if (set(getenv_fn, "AWS_LAMBDA_RUNTIME_API")) {
      contract = "lambda";
    } else {
      contract = http && !fn ? "http" : "fn";
    }
  }
  if (contract == "http") {
    auto port = tcp_port(config, getenv_fn, 8080);
    if (!port) return std::unexpected(port.error());
    PlatformChoice c;
    c.kind = PlatformChoice::Kind::Http;
    c.port = *port;
    return c;
  }
  if (contract == "funker") {
    auto port = tcp_port(config, getenv_fn, 9999);
    if (!port) return std::unexpected(port.error());
    PlatformChoice c;
    c.kind = PlatformChoice::Kind::Funker;
    c.port = *port;
    return c;
  }
  if (contract == "lambda") return choose_lambda(getenv_fn);
  return choose_fn(getenv_fn);
}

namespace {

std::expected<PlatformChoice, std::string> choose_fn(Getenv getenv_fn) {
  const char* format = getenv_fn("FN_FORMAT");
  const char* listener = getenv_fn("FN_LISTENER");
  std::string_view f = format != nullptr ? format : "";
  bool has_listener = listener != nullptr && *listener != '\0';
  PlatformChoice c;
  if (f == "http-stream" || (f.empty() && has_listener)) {
    if (!has_listener) {
      return std::unexpected(std::string(
          "FN_FORMAT=http-stream needs FN_LISTENER=unix:/path/to/lsnr.sock (the Fn agent sets "
          "both)"));
    }
    c.kind = PlatformChoice::Kind::FnStream;
    c.listener = listener;
    if (!c.listener.starts_with("unix:")) {
      return std::unexpected("FN_LISTENER='" + c.listener +
                             "': must start with 'unix:' followed by the socket path, e.g. "
                             "unix:/tmp/iofs/lsnr.sock");
    }
    return c;
  }
  if (f == "json") {
    c.kind = PlatformChoice::Kind::FnJson;
    return c;
  }
  if (f == "http") {
    c.kind = PlatformChoice::Kind::FnHttp;
    return c;
  }
  if (f == "default" || f.empty()) return c;
  if (f == "cloudevent") {
    return std::unexpected(std::string(
        "FN_FORMAT=cloudevent is not supported by hotwrap: use http-stream (every Fn server "
        "since 0.3.603), or json, http or default"));
  }
  return std::unexpected("unsupported FN_FORMAT '" + std::string(f) +
                         "': accepted values are http-stream, json, http and default");
}

}  // namespace

RunnerOptions runner_options_for(const PlatformChoice& choice) {
  // A prespawned process finds its call's variables under hotwrap's name, and in Fn's contracts
  // under Fn's too.
  if (choice.kind == PlatformChoice::Kind::Http || choice.kind == PlatformChoice::Kind::Funker ||
      choice.kind == PlatformChoice::Kind::Lambda) {
    return RunnerOptions{};
  }
  return RunnerOptions{{"HOTWRAP_CALL_ENV_FILE", "FN_CALL_ENV_FILE"}};
}

std::expected<std::unique_ptr<Platform>, std::string> start_platform(
    const PlatformChoice& choice, Runner& runner, CallStarter& calls, const Config& config,
    Lifecycle& life, Getenv getenv_fn, Registry* metrics) {
  FnContext fn = fn_context(runner, calls, config, getenv_fn);
  switch (choice.kind) {
    case PlatformChoice::Kind::FnStream: {
      std::string path = choice.listener.substr(5);
      auto socket = AnnouncedUnixSocket::open(path, "FN_LISTENER='" + choice.listener + "'");
      if (!socket) return std::unexpected(socket.error());
      runner.enable_prespawn();
      return std::make_unique<FnStreamPlatform>(std::move(fn), std::move(*socket), life);
    }
    case PlatformChoice::Kind::FnJson:
    case PlatformChoice::Kind::FnHttp: {
      auto p = std::make_unique<FnStdioPlatform>(std::move(fn));
      if (auto r = p->start(choice.kind, life); !r) return std::unexpected(r.error());
      runner.enable_prespawn();
      return p;
    }
    case PlatformChoice::Kind::FnDefault:
      return std::make_unique<FnDefaultPlatform>(std::move(fn), life, getenv_fn);
    case PlatformChoice::Kind::Http:
    case PlatformChoice::Kind::Funker: {
      auto tcp = listen_tcp(choice.port);
      if (!tcp) {
        return std::unexpected("cannot listen on TCP port " + std::to_string(choice.port) + ": " +
                               tcp.error().describe() +
                               (tcp.error().err == EADDRINUSE
                                    ? " (another process has it: choose another with HOTWRAP_PORT)"
                                    : ""));
      }
      bool funker = choice.kind == PlatformChoice::Kind::Funker;
      log(Level::Info, {}, "serving %s on port %u (%s)", funker ? "funker" : "HTTP",
          static_cast<unsigned>(tcp->port), tcp->dual_stack ? "IPv4 and IPv6" : "IPv4");
      runner.enable_prespawn();
      if (funker) {
        return std::make_unique<FunkerPlatform>(runner, calls, config, life, std::move(tcp->fd));
      }
      return std::make_unique<HttpPlatform>(runner, calls, config, life, std::move(tcp->fd),
                                            getenv_fn, metrics);
    }
    case PlatformChoice::Kind::Lambda: {
      auto p = std::make_unique<LambdaPlatform>(
          runner, calls, config, life, LambdaOptions{choice.host, choice.port, choice.concurrency});
      if (!choice.init_error.empty()) {
        p->init_error(choice.init_error, choice.init_exit_code);
        return p;
      }
      log(Level::Info, {}, "taking events from the Runtime API at %s:%u (%zu at a time)",
          choice.host.c_str(), static_cast<unsigned>(choice.port), choice.concurrency);
      runner.enable_prespawn();
      p->start();
      return p;
    }
  }
  return std::unexpected(std::string("unknown platform"));
}

}  // namespace hotwrap
