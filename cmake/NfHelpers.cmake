# Per-target build helpers in the absl_cc_* idiom: every project target gets the same
# warnings and sanitizer flags through an INTERFACE target, never through global state.
include_guard(GLOBAL)

add_library(nf_build_options INTERFACE)
target_compile_options(nf_build_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wno-missing-field-initializers)
# Warnings fail developer and CI builds only (`make test`, `make asan`, `make tsan` set
# NF_WERROR=ON). A packager's or user's build must never stop on a warning that a newer
# compiler adds, or on an optimizer false positive at another build type.
if(NF_WERROR)
  target_compile_options(nf_build_options INTERFACE -Werror)
endif()
target_compile_features(nf_build_options INTERFACE cxx_std_20)
if(NF_SANITIZE STREQUAL "address")
  target_compile_options(nf_build_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
    # GCC 12's flow-sensitive -Wmaybe-uninitialized gives false positives on instrumented code
    # (GCC documents this for -fsanitize=address; here inside libstdc++'s std::regex). Plain
    # builds, which CI runs first, keep the warning as an error, so our code stays checked.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  target_link_options(nf_build_options INTERFACE -fsanitize=address,undefined)
elseif(NF_SANITIZE STREQUAL "thread")
  target_compile_options(nf_build_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer
    # GCC 12 warns that TSan does not model std::atomic_thread_fence, which Boost.Asio uses;
    # the warning is about TSan's coverage, not our code, so it must not fail the build.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
  target_link_options(nf_build_options INTERFACE -fsanitize=thread)
elseif(NOT NF_SANITIZE STREQUAL "")
  message(FATAL_ERROR "NF_SANITIZE must be '', 'address' or 'thread'")
endif()
if(NF_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "NF_BUILD_FUZZ needs clang (CXX=clang++)")
  endif()
  # Coverage instrumentation for every project target; fuzz binaries add -fsanitize=fuzzer.
  target_compile_options(nf_build_options INTERFACE -fsanitize=fuzzer-no-link)
endif()

# nf_cc_library(NAME name SRCS ... HDRS ... DEPS ...) -> target nf_<name>, alias nf::<name>.
# Header-only libraries (no SRCS) become INTERFACE targets.
function(nf_cc_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;HDRS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(t nf_${A_NAME})
  if(A_SRCS)
    add_library(${t} STATIC ${A_SRCS} ${A_HDRS})
    target_include_directories(${t} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${t} PUBLIC ${A_DEPS} PRIVATE nf_build_options ${A_PRIVATE_DEPS})
    # Sanitizer link flags must reach every binary linking this library.
    if(NOT NF_SANITIZE STREQUAL "")
      target_link_libraries(${t} INTERFACE nf_build_options)
    endif()
  else()
    add_library(${t} INTERFACE ${A_HDRS})
    target_include_directories(${t} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${t} INTERFACE ${A_DEPS})
  endif()
  add_library(nf::${A_NAME} ALIAS ${t})
endfunction()

# nf_cc_binary(NAME name SRCS ... DEPS ... [NO_INSTALL]); NO_INSTALL for developer tools that
# must not end up in `make install` or the .deb.
function(nf_cc_binary)
  cmake_parse_arguments(A "NO_INSTALL" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_link_libraries(${A_NAME} PRIVATE nf_build_options ${A_DEPS})
  if(NOT A_NO_INSTALL)
    install(TARGETS ${A_NAME} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endfunction()

# nf_cc_test(NAME name SRCS ... DEPS ... [LABELS ...]) -> gtest binary, discovered by ctest.
function(nf_cc_test)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_link_libraries(${A_NAME} PRIVATE nf_build_options GTest::gtest GTest::gmock GTest::gtest_main ${A_DEPS})
  target_compile_definitions(${A_NAME} PRIVATE
    NF_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    NF_BINARY_DIR="${PROJECT_BINARY_DIR}")
  include(GoogleTest)
  list(LENGTH A_LABELS label_count)
  if(label_count LESS 2)
    gtest_discover_tests(${A_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${A_LABELS}")
  else()
    # gtest_discover_tests flattens PROPERTIES into name/value pairs (no escaping survives its
    # POST_BUILD command line), which left each test only its first label. A script that ctest
    # reads after the discovered list (<target>_TESTS) sets them all instead.
    gtest_discover_tests(${A_NAME} DISCOVERY_TIMEOUT 60)
    set(labels_script "${CMAKE_CURRENT_BINARY_DIR}/${A_NAME}_labels.cmake")
    file(WRITE "${labels_script}"
      "foreach(t IN LISTS ${A_NAME}_TESTS)\n"
      "  set_tests_properties(\"\${t}\" PROPERTIES LABELS \"${A_LABELS}\")\n"
      "endforeach()\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${labels_script}")
  endif()
endfunction()
