# linux/amd64 (x86_64) with Debian's crossbuild-essential-amd64, from an arm64 host (an Apple
# silicon or Graviton machine building the amd64 image); see debian-cross.cmake.
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(HOTWRAP_CROSS_ARCH amd64)
set(HOTWRAP_CROSS_TRIPLET x86_64-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
