# SPDX-License-Identifier: Apache-2.0
# What a user reads when a dependency is missing: installs the build tree BUILD_DIR, then
# configures a consumer (tests/package/hints/) with one dependency hidden from find_package
# (CMAKE_DISABLE_FIND_PACKAGE_<name>), and checks that the configure fails and names the Debian
# package to install; and that linking beehive::socket without yaml-cpp names it and
# COMPONENTS socket. Also checks that the consumer configures when nothing is hidden.
include("${CMAKE_CURRENT_LIST_DIR}/common.cmake")
set(work "${WORK_DIR}")
file(MAKE_DIRECTORY "${work}")
install_build_tree("${BUILD_DIR}" "${work}/prefix")

# expect_configure(<case> <0|fail> <regex...> ARGS <args...>): configures the hints consumer in
# a fresh build dir; checks the outcome and that the output matches every regex.
function(expect_configure case outcome)
  cmake_parse_arguments(arg "" "" "MATCH;ARGS" ${ARGN})
  set(build "${work}/${case}")
  file(REMOVE_RECURSE "${build}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/hints" -B "${build}"
                          -G Ninja "-DCMAKE_PREFIX_PATH=${work}/prefix" ${arg_ARGS}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(outcome STREQUAL "0" AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${case}: the consumer should configure, it failed:\n${out}")
  elseif(outcome STREQUAL "fail" AND rc EQUAL 0)
    message(FATAL_ERROR "${case}: the consumer should fail to configure, it did not:\n${out}")
  endif()
  string(REGEX REPLACE "[ \t\r\n]+" " " flat "${out}")  # CMake wraps long messages
  foreach(re IN LISTS arg_MATCH)
    if(NOT flat MATCHES "${re}")
      message(FATAL_ERROR "${case}: the output does not say '${re}':\n${out}")
    endif()
  endforeach()
endfunction()

expect_configure(all_there 0 ARGS -DASK_SOCKET=ON -DLINK_SOCKET=ON)
expect_configure(no_fmt fail MATCH "needs fmt" "apt install libfmt-dev"
                 ARGS -DCMAKE_DISABLE_FIND_PACKAGE_fmt=ON)
expect_configure(no_spdlog fail MATCH "needs spdlog" "apt install libspdlog-dev"
                 ARGS -DCMAKE_DISABLE_FIND_PACKAGE_spdlog=ON)
expect_configure(no_json fail MATCH "needs nlohmann_json" "apt install nlohmann-json3-dev"
                 ARGS -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON)
expect_configure(no_expected fail MATCH "needs tl-expected" "apt install libexpected-dev"
                 ARGS -DCMAKE_DISABLE_FIND_PACKAGE_tl-expected=ON)
# yaml-cpp missing: COMPONENTS socket fails at find_package, naming the package ...
expect_configure(no_yaml_asked fail MATCH "beehive::socket needs yaml-cpp"
                 "apt install libyaml-cpp-dev"
                 ARGS -DCMAKE_DISABLE_FIND_PACKAGE_yaml-cpp=ON -DASK_SOCKET=ON)
# ... without COMPONENTS, a program of channels alone still configures ...
expect_configure(no_yaml_unused 0 ARGS -DCMAKE_DISABLE_FIND_PACKAGE_yaml-cpp=ON)
# ... and a target that links beehive::socket gets the hint, not only "target not found".
expect_configure(no_yaml_linked fail
                 MATCH "hint_user links beehive::socket" "apt install libyaml-cpp-dev"
                       "COMPONENTS socket"
                 ARGS -DCMAKE_DISABLE_FIND_PACKAGE_yaml-cpp=ON -DLINK_SOCKET=ON)
