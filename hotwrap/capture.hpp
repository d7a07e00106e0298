// Capture (HOTWRAP_CAPTURE_DIR): every call's request and answer written as files, for
// `hotwrap replay` to run again. A decorator of the CallStarter every contract starts its calls
// on, so no protocol knows of it; the reply path tells it the verdict (Reply::begin). Off, it is
// not constructed: no call pays anything.
//
// Layout, one directory per call, named so that names sort by time:
//   DIR/<UTC start, 20261128T213607.123Z>-<6-digit sequence>-<call id, [A-Za-z0-9._-] only>/
//     request.json  {"version":1, "contract", "id", "time" (RFC 3339), "command" (argv),
//                    "method", "url", "headers" [[name, value]...] (HTTP contracts),
//                    "env" {the call's variables as its protocol named them},
//                    "body_bytes" (as received), "body_kept", "body_truncated"}
//     request.body  the request body, cut at body_kept bytes
//     answer.json   {"version":1, "answered" (false: the caller went away first), "status",
//                    "headers" [[name, value]...], "output_is_body" (false: the body is hotwrap's
//                    failure text), "failed", "outcome" {"kind", "code", "exit_code",
//                    "describe"}, "duration_ms", "stdout_bytes", "stderr_tail", "body_bytes",
//                    "body_kept", "body_truncated"}
//     answer.body   the answer's body (the command's stdout, or the failure text), cut likewise
// A call's two bodies together keep at most HOTWRAP_CAPTURE_MAX_BYTES (each at least half of it
// when both are larger). The directory is kept within HOTWRAP_CAPTURE_TOTAL_BYTES (counted in
// whole 4 KiB blocks, as a disk holds small files) by removing
// the oldest calls first, those of earlier runs included. A call is written under
// `<name>.partial` and renamed when complete. Files are mode 0600, directories 0700: request
// bodies may be secrets.
//
// A capture never changes an answer: it is written on the loop iteration after the call has been
// answered (small files, bounded), and a write that fails (a full disk) drops that call's capture
// with one log line per episode.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hotwrap/config.hpp"
#include "hotwrap/loop.hpp"
#include "hotwrap/reply.hpp"
#include "hotwrap/runner.hpp"

namespace hotwrap {

// How much of a request body of `req` bytes and an answer body of `ans` bytes a capture keeps,
// together at most `max`.
std::pair<uint64_t, uint64_t> capture_split(uint64_t req, uint64_t ans, uint64_t max);

// The name of a call's capture directory (see the layout above).
std::string capture_name(std::chrono::system_clock::time_point start, uint64_t seq,
                         std::string_view id);

// answer.json for a call answered with `verdict` (nullptr: never answered) that ended with
// `outcome` (nullptr: the caller went away first); `replay --update` writes it too.
std::string capture_answer_json(const Verdict* verdict, const Outcome* outcome,
                                uint64_t stdout_bytes, uint64_t body_bytes, uint64_t body_kept);

class CaptureStarter final : public CallStarter {
 public:
  // Scans `config.capture_dir` (created if missing) for earlier captures, which count against
  // the budget; leftovers of an interrupted write are removed.
  CaptureStarter(Loop& loop, CallStarter& inner, const Config& config);
  ~CaptureStarter();  // writes what is still pending
  CaptureStarter(const CaptureStarter&) = delete;
  CaptureStarter& operator=(const CaptureStarter&) = delete;

  std::unique_ptr<CallControl> start(CallHandler& handler, CallRequest request) override;

  struct Record;
  // Writes a finished record and keeps the budget (Record calls it once).
  void store(const Record& record);

 private:
  void remove_oldest();
  void flush();  // writes the records waiting for their answer to leave

  CallStarter& inner_;
  const Config& config_;
  std::vector<std::pair<std::string, uint64_t>> kept_;  // name and bytes, oldest first
  uint64_t total_ = 0;
  uint64_t seq_ = 0;
  bool failing_ = false;  // the last write failed: logged once until one succeeds
  std::vector<std::shared_ptr<Record>> pending_;
  Timer flush_;
};

}  // namespace hotwrap
