# SPDX-License-Identifier: Apache-2.0
# The docs' snippets are tests: extracts every C++ block of README.md, CONTRIBUTING.md and
# docs/*.md (tests/docs/extract_snippets.py), installs the build tree BUILD_DIR into a prefix,
# builds one program per block in a consumer project that finds the install with find_package
# (tests/package/snippets/), and runs the programs that are runnable (no marker): each must exit
# 0 within 60 s. A program marked config-error is run with $SOCKET_MODULE_CONFIG naming a missing
# file: it must exit 1, neither crash (a signal, a sanitizer report) nor hang. A doc whose snippet does not compile fails this test, naming the doc's line.
include("${CMAKE_CURRENT_LIST_DIR}/common.cmake")
set(work "${WORK_DIR}")
file(MAKE_DIRECTORY "${work}")
# The snippet directory and the consumer build are kept between runs: only a changed snippet is
# rebuilt.
run("extracting the snippets"
    COMMAND "${PYTHON}" "${REPO_DIR}/tests/docs/extract_snippets.py" --root "${REPO_DIR}"
            --out "${work}/snippets")
install_build_tree("${BUILD_DIR}" "${work}/prefix")
build_consumer("${CMAKE_CURRENT_LIST_DIR}/snippets" "${work}/build" "${work}/prefix"
               "-DSNIPPET_DIR=${work}/snippets")

file(STRINGS "${work}/snippets/snippets.txt" manifest)
set(ran 0)
set(built 0)
foreach(entry IN LISTS manifest)
  string(REPLACE " " ";" entry "${entry}")
  list(GET entry 0 file)
  list(GET entry 1 mode)
  list(GET entry 2 where)
  if(mode STREQUAL "consumer-cmake")
    continue()
  endif()
  get_filename_component(name "${file}" NAME_WE)
  if(NOT EXISTS "${work}/build/${name}")
    message(FATAL_ERROR "the snippet at ${where} was not built (${work}/build/${name})")
  endif()
  math(EXPR built "${built} + 1")
  if(mode STREQUAL "run")
    execute_process(COMMAND "${work}/build/${name}" WORKING_DIRECTORY "${work}" TIMEOUT 60
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "the snippet at ${where} exited with ${rc}:\n${out}")
    endif()
    math(EXPR ran "${ran} + 1")
  elseif(mode STREQUAL "config-error")
    execute_process(COMMAND "${CMAKE_COMMAND}" -E env
                            "SOCKET_MODULE_CONFIG=${work}/no-such-dir/socket_module.yaml"
                            "${work}/build/${name}"
                    WORKING_DIRECTORY "${work}" TIMEOUT 60
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc STREQUAL "1")
      message(FATAL_ERROR "the snippet at ${where}, without its config, should exit 1 (the "
                          "error reported); it ended with '${rc}':\n${out}")
    endif()
    if(NOT out MATCHES "no-such-dir")
      message(FATAL_ERROR "the snippet at ${where}, without its config, does not say which "
                          "file is missing:\n${out}")
    endif()
    math(EXPR ran "${ran} + 1")
  endif()
endforeach()
if(built EQUAL 0)
  message(FATAL_ERROR "no C++ snippet found: extraction broken?")
endif()
message(STATUS "doc snippets: ${built} built, ${ran} run")
