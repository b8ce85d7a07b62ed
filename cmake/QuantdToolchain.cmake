# Compiler-wide settings: ccache, sanitizers, fuzzing instrumentation.

find_program(QUANTD_CCACHE ccache)
if(QUANTD_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${QUANTD_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${QUANTD_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${QUANTD_CCACHE})
endif()

if(QUANTD_SANITIZE)
  # Applied to everything we compile and link, so gtest and our code agree.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(QUANTD_TSAN)
  if(QUANTD_SANITIZE)
    message(FATAL_ERROR "QUANTD_TSAN and QUANTD_SANITIZE exclude each other")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

if(QUANTD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "QUANTD_FUZZ=ON needs clang for libFuzzer, e.g. "
                        "-DCMAKE_CXX_COMPILER=clang++-14 (see scripts/fuzz)")
  endif()
  # libFuzzer's coverage feedback in everything we compile; only the fuzz
  # executables link libFuzzer itself (-fsanitize=fuzzer, fuzz/).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
