# SPDX-License-Identifier: Apache-2.0
# Steps shared by the package tests (cmake -P scripts): each fails the test with the output of
# the step that failed.

# run(<what> COMMAND <args...> [WORKING_DIRECTORY <dir>]): runs a command, fails on a non-zero
# exit with its output.
function(run what)
  cmake_parse_arguments(arg "" "WORKING_DIRECTORY" "COMMAND" ${ARGN})
  set(wd "")
  if(arg_WORKING_DIRECTORY)
    set(wd WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}")
  endif()
  execute_process(COMMAND ${arg_COMMAND} ${wd} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
endfunction()

# install_build_tree(<build dir> <prefix>): `cmake --install` into a fresh prefix.
function(install_build_tree build prefix)
  file(REMOVE_RECURSE "${prefix}")
  run("installing ${build}" COMMAND "${CMAKE_COMMAND}" --install "${build}" --prefix "${prefix}")
endfunction()

# build_consumer(<source> <build> <prefix> [extra -D args...]): configures a consumer project
# against the install in <prefix> (CMAKE_PREFIX_PATH, as the README says) and builds it. CXX and
# FLAGS (the sanitizer flags of the build under test) come from the caller's -D arguments.
function(build_consumer source build prefix)
  run("configuring the consumer ${source}"
      COMMAND "${CMAKE_COMMAND}" -S "${source}" -B "${build}" -G Ninja
              "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_CXX_COMPILER=${CXX}"
              "-DCMAKE_CXX_FLAGS=${FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${FLAGS}" ${ARGN})
  run("building the consumer ${source}" COMMAND "${CMAKE_COMMAND}" --build "${build}")
endfunction()
