# linux/arm64 (aarch64) with Debian's crossbuild-essential-arm64; see debian-cross.cmake.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(HOTWRAP_CROSS_ARCH arm64)
set(HOTWRAP_CROSS_TRIPLET aarch64-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
