#include "app/platform.hpp"

#include <unistd.h>

#include <string_view>

#include "transports/listener.hpp"
#include "transports/stdio.hpp"
#include "transports/unix_socket.hpp"

namespace hotwrap {

namespace {

FnContext fn_context(Runner& runner, const Config& config, Getenv getenv_fn) {
  return FnContext{runner.loop(), runner, config,
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

}  // namespace

std::expected<PlatformChoice, std::string> choose_platform(Getenv getenv_fn) {
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

RunnerOptions runner_options_for(const PlatformChoice&) {
  // Every platform so far is Fn's: a prespawned process finds its call's variables under Fn's
  // name as well as hotwrap's own.
  return RunnerOptions{{"HOTWRAP_CALL_ENV_FILE", "FN_CALL_ENV_FILE"}};
}

std::expected<std::unique_ptr<Platform>, std::string> start_platform(const PlatformChoice& choice,
                                                                     Runner& runner,
                                                                     const Config& config,
                                                                     Lifecycle& life,
                                                                     Getenv getenv_fn) {
  FnContext fn = fn_context(runner, config, getenv_fn);
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
  }
  return std::unexpected(std::string("unknown platform"));
}

}  // namespace hotwrap
