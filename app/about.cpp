#include "app/about.hpp"

#include "app/build_info.hpp"

namespace hotwrap {

namespace {

// Docker's and Go's names for the architectures (the release files and image platforms use them).
#if defined(__x86_64__)
constexpr std::string_view kArch = "amd64";
#elif defined(__aarch64__)
constexpr std::string_view kArch = "arm64";
#elif defined(__i386__)
constexpr std::string_view kArch = "386";
#elif defined(__arm__)
constexpr std::string_view kArch = "arm";
#elif defined(__riscv) && __riscv_xlen == 64
constexpr std::string_view kArch = "riscv64";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr std::string_view kArch = "ppc64le";
#elif defined(__s390x__)
constexpr std::string_view kArch = "s390x";
#else
constexpr std::string_view kArch = "unknown";
#endif

}  // namespace

std::string version_text() {
  std::string s = "hotwrap " HOTWRAP_VERSION " (commit ";
  s += build_info::commit;
  s += ", linux/";
  s += kArch;
  s += ")\n";
  return s;
}

std::string_view licenses_text() {
  return build_info::notice;
}

}  // namespace hotwrap
