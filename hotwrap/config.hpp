// Configuration: what the core is told at start-up (read by app/config.hpp from HOTWRAP_*
// variables and --flags).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "hotwrap/log.hpp"

namespace hotwrap {

using Millis = std::chrono::milliseconds;

struct Config {
  uint64_t buffer_bytes = 1 << 20;  // stdout held so the status can follow the exit code
  Millis kill_grace{500};           // SIGTERM → SIGKILL at the deadline
  Millis deadline_margin{200};      // the 504 leaves this long before Fn-Deadline
  Millis shutdown_grace{5000};      // a running call's time to finish after SIGTERM
  Millis timeout{3'600'000};        // bounds every call (and caps the platform's deadline); 0: none
  Level log_level = Level::Info;
  bool stderr_prefix = true;  // each line of a call's stderr prefixed "[<call id>] "
  bool error_detail = true;   // a failed call's answer carries the end of its stderr
  bool log_calls = false;     // a summary line for every call, not only failed ones
  std::string content_type = "application/octet-stream";
  uint64_t max_header_bytes = 64 << 10;
  uint64_t max_headers = 200;
  uint64_t max_url_bytes = 8 << 10;
  uint64_t max_body_bytes = 0;  // 0: no limit
  uint64_t max_connections = 64;
  bool prespawn = false;
  // Which platform's contract: "fn", "http", "lambda", "funker"; empty: chosen from the
  // environment the platform sets (app/platform.cpp).
  std::string contract;
  uint16_t port = 0;          // TCP contracts; 0: $PORT, else the contract's default
  uint64_t max_inflight = 0;  // calls at once (429 beyond); 0: no limit
  Millis drain{3000};         // after SIGTERM, new calls are still served this long (http)
  int metrics_port = -1;      // -1: the contract's default (8081 for http, else off); 0: off
  LogFormat log_format = LogFormat::Text;
  // The Google Cloud project of the calls' trace ids (JSON logs' trace field); empty: none.
  std::string trace_project;

  // The funker contract.
  bool funker_oneshot = false;  // one call, then exit with the command's status
  bool funker_json = false;     // answer only a stdout that is one JSON value
  // Capture (hotwrap/capture.hpp): each call's request and answer written under capture_dir.
  std::string capture_dir;                  // empty: off
  uint64_t capture_max_bytes = 1 << 20;     // per call: a body past it is cut and marked
  uint64_t capture_total_bytes = 64 << 20;  // the directory's budget: oldest calls go first
  // The lambda contract.
  bool lambda_stream = false;         // lambda: stream every answer, not only those over 6 MB
  std::string lambda_event = "auto";  // lambda: "auto" (by its shape), "raw" or "http"

  std::vector<std::string> command;  // argv of the wrapped command
  bool cgi = false;  // the output may begin with a CGI header block; calls get CGI variables
};

}  // namespace hotwrap
