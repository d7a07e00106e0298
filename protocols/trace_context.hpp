// The trace a request belongs to, from the headers Cloud Run and Knative's tracing send.
#pragma once

#include <string>

#include "hotwrap/http.hpp"

namespace hotwrap {

// The trace id of W3C `traceparent` (version-traceid-parentid-flags: its 32 hex digits), else
// of Google's `X-Cloud-Trace-Context` (TRACE_ID/SPAN_ID;o=1: its hex trace id, at most 32
// digits); empty when neither carries a usable one (an all-zero trace id is none).
std::string http_trace_id(const RequestHead& head);

}  // namespace hotwrap
