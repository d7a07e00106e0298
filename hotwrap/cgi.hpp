// The CGI response head (RFC 3875 §6) a command may begin its output with: `Name: value` lines,
// a blank line (LF or CRLF), then the body. Decoded as the output arrives, split anywhere; only
// decoding here: what the status means to a platform is its protocol's policy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hotwrap/http.hpp"

namespace hotwrap {

// A decoded head. Field names are matched case-insensitively (Status, status), as HTTP's are.
struct CgiHead {
  // Status: NNN, else 302 when there is a Location (no internal redirect: a local path is sent
  // to the client too, as Go's net/http/cgi does without a PathLocationHandler), else 200.
  int status = 200;
  std::string reason;        // Status's reason phrase as written ("" when none)
  std::string content_type;  // "" when the head has none
  std::string location;      // "" when the head has none; also among `headers`
  // Every other field in order, names as written, values without surrounding white space;
  // repeated names kept (Set-Cookie). Never Status or Content-Type, and never a field that
  // frames the message (Content-Length, Transfer-Encoding, Connection and the other hop-by-hop
  // ones): the framing is the server's, and a script's Content-Length would lie once the body is
  // re-framed, so those lines are dropped.
  std::vector<Header> headers;
  uint64_t body_offset = 0;  // bytes of output the head took, its blank line included
};

class CgiHeadDecoder {
 public:
  enum class State {
    NeedMore,  // undecided: feed more, or finish()
    // The output does not begin with a header line (not `token:`, or a blank first line): all of
    // it is the body, as shell2http takes it.
    NotCgi,
    Head,    // head() is complete; the body starts at head().body_offset
    Broken,  // a head began (its first line is `token:`) but cannot be used: error() says why
  };

  // `max_bytes`: the largest head, blank line included; past it a begun head is Broken.
  explicit CgiHeadDecoder(uint64_t max_bytes);

  // Starts over for a new output.
  void reset();
  // The next bytes of the output. Once decided, the state stays and more bytes are ignored.
  State feed(std::string_view bytes);
  // The output ended: an undecided head is NotCgi if no header line began, else Broken.
  State finish();

  State state() const { return state_; }
  const CgiHead& head() const { return head_; }
  // Broken: why, as a phrase ("line 2 has no ':' after a header name", "it has no end: ...").
  const std::string& error() const { return error_; }

 private:
  enum class Scan { Name, Value, CarriageReturn };
  State step(char c);
  State end_of_line();
  State field(std::string_view name, std::string_view value);
  // Line 1 not a header line: NotCgi; any later line: Broken with `why`.
  State bad_line(const char* why);
  // "line <n> <why>"
  std::string at_line(std::string_view why) const;
  State broken(std::string why);

  uint64_t max_bytes_;
  State state_ = State::NeedMore;
  Scan scan_ = Scan::Name;
  uint64_t consumed_ = 0;
  unsigned line_ = 1;
  bool colon_ = false;  // the current line has had its ':'
  bool has_status_ = false;
  std::string name_;
  std::string value_;
  CgiHead head_;
  std::string error_;
};

}  // namespace hotwrap
