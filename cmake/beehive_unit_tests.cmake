# SPDX-License-Identifier: Apache-2.0
# beehive_unit_tests(DIR <folder> LIBS <targets...>): one test executable per
# <folder>/<unit>_test.cpp, beside the code it tests, linked with LIBS. Does nothing unless
# BEEHIVE_BUILD_TESTS is on.
function(beehive_unit_tests)
  cmake_parse_arguments(arg "" "DIR" "LIBS" ${ARGN})
  if(NOT BEEHIVE_BUILD_TESTS)
    return()
  endif()
  file(GLOB _tests CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/${arg_DIR}/*_test.cpp")
  foreach(test_src IN LISTS _tests)
    get_filename_component(test_name ${test_src} NAME_WE)
    add_executable(${test_name} ${test_src})
    target_include_directories(${test_name} PRIVATE ${PROJECT_SOURCE_DIR}/src
                               ${PROJECT_SOURCE_DIR}/tests/support)
    target_link_libraries(${test_name} PRIVATE ${arg_LIBS} beehive_options GTest::gtest
                          GTest::gtest_main spdlog::spdlog fmt::fmt)
    gtest_discover_tests(${test_name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120
                         LABELS unit)
  endforeach()
endfunction()
