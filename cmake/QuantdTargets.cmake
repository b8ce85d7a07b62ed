# Helpers that give every target of ours the same warnings and layout.

# Warnings for our own code only (third-party headers come in as SYSTEM).
function(quantd_target_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-unused-parameter
                                     -Wno-missing-field-initializers>)
  if(QUANTD_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()

# quantd_library(NAME SOURCES ... [DEPS ...] [PUBLIC_DEPS ...])
# A static library rooted at the repository root for includes.
function(quantd_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_DEPS})
  quantd_target_warnings(${name})
endfunction()

# quantd_engine_library(NAME SOURCES ... [DEPS ...] [PUBLIC_DEPS ...])
# An engine library: links LibTorch and reuses the engine's precompiled
# header (ATen is ~25 s a translation unit to parse without it).
function(quantd_engine_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  quantd_library(${name} SOURCES ${ARG_SOURCES} DEPS ${ARG_DEPS}
                 PUBLIC_DEPS quantd_torch ${ARG_PUBLIC_DEPS})
  target_precompile_headers(${name} REUSE_FROM quantd_engine_pch)
endfunction()

# quantd_add_test(NAME SOURCES ... [DEPS ...] [LABELS ...] [ENGINE] [TIMEOUT s])
# A GoogleTest executable registered as ONE ctest test: every engine test
# process pays LibTorch's start-up (seconds on a loaded 2-core machine), so
# one process per suite keeps the run short; the gtest output still names
# each case.
function(quantd_add_test name)
  cmake_parse_arguments(ARG "ENGINE" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  quantd_target_warnings(${name})
  if(ARG_ENGINE)
    target_precompile_headers(${name} REUSE_FROM quantd_engine_pch)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  add_test(NAME ${name} COMMAND ${name} --gtest_brief=0
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES
    LABELS "${ARG_LABELS}"
    TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "QUANTD_SOURCE_DIR=${PROJECT_SOURCE_DIR};QUANTD_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()

