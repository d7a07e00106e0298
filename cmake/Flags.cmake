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
# -Os, not CMake's -O3: the hot path is system calls (measured: no latency difference), and
# the static binary stays well under its size budget.
set(CMAKE_C_FLAGS_RELEASE "-Os -DNDEBUG")
set(CMAKE_CXX_FLAGS_RELEASE "-Os -DNDEBUG")

if(HOTWRAP_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
