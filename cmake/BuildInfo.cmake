# What `hotwrap --version` and `--licenses` print: the version (project() in CMakeLists.txt, the
# one place it is written), the commit, the target architecture (app/about.cpp) and NOTICE.
#
# The commit is read at build time, not at configure time, so a new commit or an edit shows up
# without re-running CMake. build_info.cpp is rewritten only when its text changes: an unchanged
# commit costs no recompilation and no relink, and the same commit always gives the same bytes.
# A build with no .git (a source tarball, `git archive`) says "unknown" unless -DHOTWRAP_COMMIT
# names it, as scripts/release.sh and the Dockerfile do.
set(HOTWRAP_COMMIT "" CACHE STRING "Commit shown by hotwrap --version (empty: ask git at build time)")
set(HOTWRAP_BUILD_INFO ${PROJECT_BINARY_DIR}/generated/build_info.cpp)
add_custom_target(hotwrap_build_info
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUTPUT=${HOTWRAP_BUILD_INFO}
          -DCOMMIT=${HOTWRAP_COMMIT} -P ${PROJECT_SOURCE_DIR}/cmake/WriteBuildInfo.cmake
  BYPRODUCTS ${HOTWRAP_BUILD_INFO}
  VERBATIM)
target_sources(hotwrap PRIVATE app/about.cpp ${HOTWRAP_BUILD_INFO})
add_dependencies(hotwrap hotwrap_build_info)
