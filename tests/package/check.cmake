# SPDX-License-Identifier: Apache-2.0
# Installs the build tree BUILD_DIR into a fresh prefix, then configures, builds and runs the
# consumer project against it: proves that find_package(beehive) works from an install prefix,
# that beehive::beehive and beehive::socket both link and run, and that a program of channels
# alone (beehive::beehive) does not link yaml-cpp.
include("${CMAKE_CURRENT_LIST_DIR}/common.cmake")
set(work "${WORK_DIR}")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")
install_build_tree("${BUILD_DIR}" "${work}/prefix")
build_consumer("${SOURCE_DIR}" "${work}/build" "${work}/prefix")
foreach(program consumer socket_consumer)
  run("running ${program}" COMMAND "${work}/build/${program}")
endforeach()

# The link commands, as the build ran them: yaml-cpp on the socket user's, not on the other's.
# (The link line, not ldd: a linker with --as-needed would hide an unneeded library from ldd.)
foreach(program consumer socket_consumer)
  execute_process(COMMAND "${CMAKE_COMMAND}" --build "${work}/build" -- -t commands ${program}
                  OUTPUT_VARIABLE commands RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "listing the build commands of ${program} failed: ${rc}")
  endif()
  string(REGEX MATCH "[^\n]* -o ${program} [^\n]*" link_${program} "${commands}")
  if(NOT link_${program})
    message(FATAL_ERROR "no link command for ${program} in:\n${commands}")
  endif()
endforeach()
if(link_consumer MATCHES "yaml-cpp")
  message(FATAL_ERROR "a channel-only program links yaml-cpp:\n${link_consumer}")
endif()
if(NOT link_socket_consumer MATCHES "yaml-cpp")
  message(FATAL_ERROR "the socket program does not link yaml-cpp (check broken?):\n"
                      "${link_socket_consumer}")
endif()
# And at run time.
file(GET_RUNTIME_DEPENDENCIES EXECUTABLES "${work}/build/consumer"
     RESOLVED_DEPENDENCIES_VAR deps UNRESOLVED_DEPENDENCIES_VAR unresolved)
foreach(dep IN LISTS deps unresolved)
  if(dep MATCHES "yaml-cpp")
    message(FATAL_ERROR "a channel-only program depends on ${dep} at run time")
  endif()
endforeach()
