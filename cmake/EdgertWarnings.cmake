# Warnings are errors on our own targets only; third-party headers come in as SYSTEM.
function(edgert_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow=local -Wnon-virtual-dtor)
  if(EDGERT_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12's flow analysis reports false maybe-uninitialized warnings inside libstdc++
    # (std::regex, std::function) once ASan instruments the code.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
  if(EDGERT_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
