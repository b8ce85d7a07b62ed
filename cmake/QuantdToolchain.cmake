# Compiler-wide settings: ccache, sanitizers.

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
