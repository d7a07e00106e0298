# Every dependency comes from a Debian package; a missing one stops configure with one line
# that names the package to install.

function(hotwrap_require what path package)
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "hotwrap: ${what} not found at ${path}: install the Debian package '${package}' (apt-get install ${package})")
  endif()
endfunction()

# llhttp: node-llhttp ships the generated C sources; we compile them ourselves.
set(LLHTTP_SOURCE_DIR "/usr/share/llhttp" CACHE PATH "Directory with llhttp's api.c, http.c, llhttp.c")
set(LLHTTP_INCLUDE_DIR "/usr/share/include/llhttp" CACHE PATH "Directory with llhttp.h")
foreach(src api.c http.c llhttp.c)
  hotwrap_require("llhttp source ${src}" "${LLHTTP_SOURCE_DIR}/${src}" node-llhttp)
endforeach()
hotwrap_require("llhttp header" "${LLHTTP_INCLUDE_DIR}/llhttp.h" node-llhttp)
add_library(hotwrap_llhttp STATIC
  ${LLHTTP_SOURCE_DIR}/api.c ${LLHTTP_SOURCE_DIR}/http.c ${LLHTTP_SOURCE_DIR}/llhttp.c)
target_include_directories(hotwrap_llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
set_target_properties(hotwrap_llhttp PROPERTIES C_STANDARD 99 POSITION_INDEPENDENT_CODE ON)
# Generated code: not ours to warn about.
target_compile_options(hotwrap_llhttp PRIVATE -w)

# libevent: only libevent_core (loop, events, evbuffer); static archive for the static build.
find_path(LIBEVENT_INCLUDE_DIR event2/event.h)
hotwrap_require("libevent headers" "${LIBEVENT_INCLUDE_DIR}/event2/event.h" libevent-dev)
if(HOTWRAP_STATIC AND NOT HOTWRAP_SANITIZE)
  find_library(LIBEVENT_CORE NAMES libevent_core.a)
else()
  find_library(LIBEVENT_CORE NAMES event_core)
endif()
if(NOT LIBEVENT_CORE)
  message(FATAL_ERROR "hotwrap: libevent_core library not found: install the Debian package 'libevent-dev' (apt-get install libevent-dev)")
endif()
add_library(hotwrap_libevent INTERFACE)
target_include_directories(hotwrap_libevent SYSTEM INTERFACE ${LIBEVENT_INCLUDE_DIR})
target_link_libraries(hotwrap_libevent INTERFACE ${LIBEVENT_CORE})

find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND)
  message(FATAL_ERROR "hotwrap: nlohmann/json not found: install the Debian package 'nlohmann-json3-dev' (apt-get install nlohmann-json3-dev)")
endif()

if(HOTWRAP_TESTS)
  find_path(DOCTEST_INCLUDE_DIR doctest/doctest.h)
  if(NOT DOCTEST_INCLUDE_DIR)
    message(FATAL_ERROR "hotwrap: doctest not found: install the Debian package 'doctest-dev' (apt-get install doctest-dev)")
  endif()
endif()
