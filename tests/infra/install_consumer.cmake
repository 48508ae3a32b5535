# cmake -P script behind the `install_consumer` test (see tests/infra/CMakeLists.txt).
# Installs the skiff build into a fresh prefix and checks what a user gets:
#   1. only include/skiff/ under <prefix>/include (DESIGN.md §5.8: internal headers stay home);
#   2. skiff::core links nothing but the standard library (no INTERFACE_LINK_LIBRARIES);
#   3. tests/install/consumer configures with find_package(skiff), builds, and runs to 0;
#      with -DMINIMAL_EXAMPLE=<examples/minimal/main.cc> it builds and runs that too.
cmake_minimum_required(VERSION 3.25)

foreach(var SKIFF_BUILD_DIR PREFIX CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_consumer: -D${var}=... is required")
  endif()
endforeach()

# run(description COMMAND...): runs a command, failing the test with its output on error.
function(run description)
  message(STATUS "install_consumer: ${description}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_consumer: ${description} failed (${rc}):\n${out}")
  endif()
  message("${out}")
endfunction()

file(REMOVE_RECURSE "${PREFIX}" "${CONSUMER_BINARY_DIR}")

set(config_args)
if(DEFINED SKIFF_CONFIG AND NOT SKIFF_CONFIG STREQUAL "")
  set(config_args --config "${SKIFF_CONFIG}")
endif()
run("install into ${PREFIX}"
  "${CMAKE_COMMAND}" --install "${SKIFF_BUILD_DIR}" --prefix "${PREFIX}" ${config_args})

# 1. Nothing but include/skiff/ under include/.
file(GLOB include_entries LIST_DIRECTORIES true RELATIVE "${PREFIX}/include" "${PREFIX}/include/*")
if(NOT include_entries STREQUAL "skiff")
  message(FATAL_ERROR
    "install_consumer: ${PREFIX}/include must hold only skiff/, found: ${include_entries}")
endif()

# 2. skiff::core's exported link interface is empty: no set_target_properties or set_property
#    on skiff::core in the installed target files may mention a link-libraries property.
file(GLOB_RECURSE target_files "${PREFIX}/skiffTargets*.cmake")
if(NOT target_files)
  message(FATAL_ERROR "install_consumer: no skiffTargets*.cmake installed under ${PREFIX}")
endif()
foreach(file IN LISTS target_files)
  file(READ "${file}" text)
  string(REGEX MATCHALL
    "set_target_properties\\(skiff::core[ \t\r\n]+PROPERTIES[^)]*\\)|set_property\\(TARGET skiff::core[^)]*\\)"
    blocks "${text}")
  foreach(block IN LISTS blocks)
    if(block MATCHES "LINK_LIBRARIES|LINK_INTERFACE_LIBRARIES|LINK_DEPENDENT_LIBRARIES")
      message(FATAL_ERROR "install_consumer: skiff::core must link nothing but the standard "
        "library, but ${file} says:\n${block}")
    endif()
  endforeach()
endforeach()

# 3. A separate project finds the installed package (and only it) and uses it.
set(consumer_args
  -S "${CONSUMER_SOURCE_DIR}" -B "${CONSUMER_BINARY_DIR}" -G Ninja
  "-DCMAKE_PREFIX_PATH=${PREFIX}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(DEFINED MAKE_PROGRAM AND NOT MAKE_PROGRAM STREQUAL "")
  list(APPEND consumer_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(DEFINED MINIMAL_EXAMPLE AND NOT MINIMAL_EXAMPLE STREQUAL "")
  list(APPEND consumer_args "-DSKIFF_MINIMAL_EXAMPLE=${MINIMAL_EXAMPLE}")
endif()
if(DEFINED SKIFF_CONFIG AND NOT SKIFF_CONFIG STREQUAL "")
  list(APPEND consumer_args "-DCMAKE_BUILD_TYPE=${SKIFF_CONFIG}")
endif()
if(DEFINED CONSUMER_LINKER_FLAGS AND NOT CONSUMER_LINKER_FLAGS STREQUAL "")
  list(APPEND consumer_args "-DCMAKE_EXE_LINKER_FLAGS=${CONSUMER_LINKER_FLAGS}")
endif()
run("configure the consumer" "${CMAKE_COMMAND}" ${consumer_args})

file(STRINGS "${CONSUMER_BINARY_DIR}/CMakeCache.txt" skiff_dir_line REGEX "^skiff_DIR:")
string(REGEX REPLACE "^skiff_DIR:[A-Z]+=" "" skiff_dir "${skiff_dir_line}")
cmake_path(IS_PREFIX PREFIX "${skiff_dir}" NORMALIZE found_in_prefix)
if(NOT found_in_prefix)
  message(FATAL_ERROR
    "install_consumer: the consumer found skiff at '${skiff_dir}', not under ${PREFIX}")
endif()

run("build the consumer" "${CMAKE_COMMAND}" --build "${CONSUMER_BINARY_DIR}")
run("run the consumer" "${CONSUMER_BINARY_DIR}/app")
run("run the installed conformance suite" "${CONSUMER_BINARY_DIR}/conformance")
if(DEFINED MINIMAL_EXAMPLE AND NOT MINIMAL_EXAMPLE STREQUAL "")
  run("run examples/minimal built from the installed package" "${CONSUMER_BINARY_DIR}/minimal"
    "${CONSUMER_BINARY_DIR}/minimal-data")
endif()
message(STATUS "install_consumer: passed")
