#include "contracts/verdict.hpp"

namespace hotwrap {

Verdict verdict_for(const Outcome& outcome, bool trigger) {
  Verdict v;
  if (outcome.kind == Outcome::Kind::TimedOut) {
    v.status = 504;
    v.output_is_body = false;
    v.message = "hotwrap: the command did not finish before the deadline\n";
  } else if (trigger) {
    v.fn_http_status = outcome.ok() ? "200" : "500";
  } else if (!outcome.ok()) {
    v.status = 502;
    v.output_is_body = false;
    v.message = "hotwrap: the command " + outcome.describe() + "\n";
  }
  return v;
}

std::vector<Header> fdk_headers(const Config& config) {
  const std::string& cmd = config.command.front();
  return {{"Fn-Fdk-Version", "hotwrap/" HOTWRAP_VERSION},
          {"Fn-Fdk-Runtime", "exec/" + cmd.substr(cmd.rfind('/') + 1)}};
}

}  // namespace hotwrap
