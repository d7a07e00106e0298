// How a hot contract answers a call, decided from the command's fate alone; shared by http-stream,
// http and json so that the three formats can never disagree on a status.
#pragma once

#include <string>
#include <vector>

#include "hotwrap/config.hpp"
#include "hotwrap/http.hpp"
#include "hotwrap/runner.hpp"

namespace hotwrap {

inline constexpr const char* kTextPlain = "text/plain; charset=utf-8";

struct Verdict {
  int status = 200;
  // Trigger calls (Fn-Intent: httprequest) only: the status the caller gets, carried inside the
  // 200 as Fn-Http-Status ("200" or "500"); nullptr otherwise.
  const char* fn_http_status = nullptr;
  // True: the command's stdout is the body, as HOTWRAP_CONTENT_TYPE. False: `message` is, as
  // kTextPlain.
  bool output_is_body = true;
  std::string message;
};

// Exit 0 → 200 with the output. Deadline → 504 (sent before Fn-Deadline, so the agent keeps the
// container). Any other failure → 502 with a text naming it, or, for a trigger call, 200 with
// Fn-Http-Status: 500 and the output, so the caller still sees what the command printed.
Verdict verdict_for(const Outcome& outcome, bool trigger);

// Fn-Fdk-Version and Fn-Fdk-Runtime, which every response carries.
std::vector<Header> fdk_headers(const Config& config);

}  // namespace hotwrap
