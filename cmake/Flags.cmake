# Warnings for our own code (not for llhttp's generated sources).
add_library(hotwrap_warnings INTERFACE)
target_compile_options(hotwrap_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(HOTWRAP_WERROR)
  target_compile_options(hotwrap_warnings INTERFACE -Werror)
endif()

add_compile_options(-ffunction-sections -fdata-sections)

if(HOTWRAP_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
