# Cross-compiling hotwrap with Debian's cross toolchains, for the architecture named by the file
# that includes this one (linux-arm64.cmake, linux-amd64.cmake). scripts/cross-deps.sh installs
# what it needs:
#   scripts/cross-deps.sh arm64
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/linux-arm64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${HOTWRAP_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${HOTWRAP_CROSS_TRIPLET}-g++)
# Debian's multiarch library directory of the target: /usr/lib/<triplet>.
set(CMAKE_LIBRARY_ARCHITECTURE ${HOTWRAP_CROSS_TRIPLET})

# The target's libevent-dev. Debian 12's is not Multi-Arch: same (its event-config.h is per
# architecture, yet in /usr/include), so beside the native one it is unpacked into a directory of
# its own, not installed. A Docker build stage, which has no native one, installs it instead.
if(DEFINED ENV{HOTWRAP_CROSS_ROOT})
  set(hotwrap_cross_root $ENV{HOTWRAP_CROSS_ROOT})
else()
  set(hotwrap_cross_root /opt/hotwrap-cross/${HOTWRAP_CROSS_ARCH})
endif()
set(hotwrap_core_lib usr/lib/${HOTWRAP_CROSS_TRIPLET}/libevent_core.a)
if(EXISTS ${hotwrap_cross_root}/${hotwrap_core_lib})
  # Searched first, before the host's directories: the target's event2 headers win.
  set(CMAKE_FIND_ROOT_PATH ${hotwrap_cross_root})
elseif(NOT EXISTS /${hotwrap_core_lib})
  message(FATAL_ERROR "hotwrap: no libevent_core.a for ${HOTWRAP_CROSS_ARCH} in ${hotwrap_cross_root} or /usr: run scripts/cross-deps.sh ${HOTWRAP_CROSS_ARCH} (it unpacks libevent-dev:${HOTWRAP_CROSS_ARCH} there), or set HOTWRAP_CROSS_ROOT to where it is unpacked")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
# nlohmann/json and llhttp are architecture-independent: the host's packages serve.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
