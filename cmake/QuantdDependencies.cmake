# Third-party dependencies. Every one comes from Debian's packages, except
# LibTorch, which comes from the PyPI torch wheel pinned in
# scripts/requirements.txt (scripts/bootstrap installs all of them).

find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
find_package(OpenSSL REQUIRED)
if(QUANTD_POSTGRES)
  find_package(PostgreSQL REQUIRED)
endif()
if(QUANTD_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(QUANTD_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()
find_package(Python3 COMPONENTS Interpreter REQUIRED)

set(QUANTD_WITH_CUDA OFF)
if(QUANTD_BUILD_ENGINE)
  # LibTorch from the installed torch wheel.
  execute_process(
    COMMAND ${Python3_EXECUTABLE} -c
            "import torch, torch.utils; print(torch.utils.cmake_prefix_path); print(int(torch.version.cuda is not None)); print(torch.__version__)"
    OUTPUT_VARIABLE _quantd_torch_info
    RESULT_VARIABLE _quantd_torch_rc
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _quantd_torch_rc EQUAL 0)
    message(FATAL_ERROR "torch is not importable by ${Python3_EXECUTABLE}; run scripts/bootstrap")
  endif()
  string(REPLACE "\n" ";" _quantd_torch_info "${_quantd_torch_info}")
  list(GET _quantd_torch_info 0 _quantd_torch_prefix)
  list(GET _quantd_torch_info 1 QUANTD_TORCH_HAS_CUDA)
  list(GET _quantd_torch_info 2 QUANTD_TORCH_VERSION)
  list(APPEND CMAKE_PREFIX_PATH ${_quantd_torch_prefix})
  # The CUDA wheel's CMake config looks for the CUDA toolkit; point it at
  # the preinstalled one.
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  # Name the GPU architectures up front: otherwise the CUDA wheel's config
  # try_run()s a probe on the (absent) GPU. 9.0 = Hopper (H100/H200).
  if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST} AND NOT TORCH_CUDA_ARCH_LIST)
    set(TORCH_CUDA_ARCH_LIST "9.0")
  endif()
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(Torch REQUIRED)
  # Every engine target links quantd_torch, not torch: libtorch.so exports
  # its own copies of some std::filesystem functions (remove_all, status,
  # ...), and when it precedes libstdc++ in the load order its copies win
  # and crash. Naming libstdc++ first in DT_NEEDED makes libstdc++'s win.
  add_library(quantd_torch INTERFACE)
  target_link_libraries(quantd_torch INTERFACE torch)
  target_link_options(quantd_torch INTERFACE "LINKER:--no-as-needed" "-lstdc++")
  message(STATUS "LibTorch ${QUANTD_TORCH_VERSION} (cuda=${QUANTD_TORCH_HAS_CUDA})")

  find_program(QUANTD_NVCC nvcc PATHS /usr/local/cuda/bin)
  if(QUANTD_CUDA STREQUAL "ON")
    if(NOT QUANTD_TORCH_HAS_CUDA OR NOT QUANTD_NVCC)
      message(FATAL_ERROR "QUANTD_CUDA=ON but LibTorch has no CUDA or nvcc is missing")
    endif()
    set(QUANTD_WITH_CUDA ON)
  elseif(QUANTD_CUDA STREQUAL "AUTO" AND QUANTD_TORCH_HAS_CUDA AND QUANTD_NVCC)
    set(QUANTD_WITH_CUDA ON)
  endif()
  if(QUANTD_WITH_CUDA)
    if(NOT CMAKE_CUDA_ARCHITECTURES)
      # Hopper (H100/H200) and a portable PTX fallback.
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
  endif()
endif()
