# Writes the git commit the build comes from into OUT (a header), rewriting it only when it changed, so that
# `rebound --version` and every journal name the commit without rebuilding on every build.
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12 --exclude "*"
  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE failed)
if(failed OR commit STREQUAL "")
  set(commit "unknown")  # a source tarball without .git
endif()
set(text "#pragma once\n#define REBOUND_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
