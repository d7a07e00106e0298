# Warnings for our own code (not for llhttp's generated sources).
add_library(hotwrap_warnings INTERFACE)
target_compile_options(hotwrap_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wcast-align -Wunused
  -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual>)
if(HOTWRAP_WERROR)
  target_compile_options(hotwrap_warnings INTERFACE -Werror)
endif()

add_compile_options(-ffunction-sections -fdata-sections)
# Reproducible builds: no path of the source or build tree reaches an object (__FILE__, debug
# info), so a commit gives the same bytes wherever it is built (scripts/release.sh).
add_compile_options(-ffile-prefix-map=${PROJECT_SOURCE_DIR}/= -ffile-prefix-map=${PROJECT_BINARY_DIR}/=)
# -Os, not CMake's -O3: the hot path is system calls (measured: no latency difference), and
# the static binary stays well under its size budget.
set(CMAKE_C_FLAGS_RELEASE "-Os -DNDEBUG")
set(CMAKE_CXX_FLAGS_RELEASE "-Os -DNDEBUG")

# Hardening: hotwrap parses HTTP from the network. The sanitizer and fuzz builds go without it:
# ASan makes the checks the fortified functions would, and more.
if(NOT HOTWRAP_SANITIZE AND NOT HOTWRAP_FUZZ)
  # No -fcf-protection: the static glibc objects lack IBT/SHSTK, so the linker drops the property
  # and the kernel would not enforce it.
  add_compile_options(-fstack-protector-strong -fstack-clash-protection)
  # The fortified functions need optimisation to know object sizes (at -O0 glibc warns, an error
  # with HOTWRAP_WERROR); level 3 also checks sizes known only at run time.
  add_compile_options($<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE>
                      $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=3>)
  add_compile_definitions(_GLIBCXX_ASSERTIONS)
  add_link_options(-Wl,-z,relro,-z,now -Wl,-z,noexecstack)
endif()
# -static, not -static-pie: with the flags above the stripped binary is 1,244,320 bytes, and
# 1,318,560 as a static PIE, over its 1.25 MiB budget.
set(HOTWRAP_STATIC_LINK -static CACHE STRING "Link option of the static hotwrap binary")

if(HOTWRAP_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
