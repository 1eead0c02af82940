# Writes OUT (a header defining VREPO_SOURCE_REVISION) from `git rev-parse` at build time, so
# --version names the commit that was built, not the one present when CMake configured.
# Rewrites the file only when the revision changed, so nothing rebuilds otherwise.
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT rev)
  set(rev unknown)
elseif(dirty)
  set(rev "${rev}-dirty")
endif()
set(content "#define VREPO_SOURCE_REVISION \"${rev}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${content}")
  file(WRITE ${OUT} "${content}")
endif()
