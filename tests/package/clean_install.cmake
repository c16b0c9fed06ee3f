# SPDX-License-Identifier: Apache-2.0
# Install and use from a clean machine, as README.md says: configures the source tree REPO_DIR
# into a fresh directory with tests, benchmarks and examples off (GTest and Google Benchmark
# hidden from find_package, so that needing them fails), builds, installs into a prefix, then
# builds the README's consumer CMakeLists.txt (the ```cmake block marked consumer-cmake) with
# CMAKE_PREFIX_PATH, its main.cpp and bridge.cpp being this folder's main.cpp and
# socket_main.cpp, and runs both programs.
include("${CMAKE_CURRENT_LIST_DIR}/common.cmake")
set(work "${WORK_DIR}")
file(REMOVE_RECURSE "${work}")  # a fresh configure every time, as on a clean machine (ccache
file(MAKE_DIRECTORY "${work}")  # keeps the rebuild cheap)
run("configuring the source tree with tests, benchmarks and examples off"
    COMMAND "${CMAKE_COMMAND}" -S "${REPO_DIR}" -B "${work}/build" -G Ninja
            -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_COMPILER=${CXX}"
            -DBEEHIVE_BUILD_TESTS=OFF -DBEEHIVE_BUILD_BENCH=OFF -DBEEHIVE_BUILD_EXAMPLES=OFF
            -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON)
run("building" COMMAND "${CMAKE_COMMAND}" --build "${work}/build")
install_build_tree("${work}/build" "${work}/prefix")
foreach(header beehive.hpp socket.hpp)
  if(NOT EXISTS "${work}/prefix/include/beehive/${header}")
    message(FATAL_ERROR "the install has no include/beehive/${header}")
  endif()
endforeach()
file(GLOB private_headers "${work}/prefix/include/beehive/*/*.hpp")
if(private_headers)
  message(FATAL_ERROR "private headers installed: ${private_headers}")
endif()

# The README's consumer project.
run("extracting the README's blocks"
    COMMAND "${PYTHON}" "${REPO_DIR}/tests/docs/extract_snippets.py" --root "${REPO_DIR}"
            --out "${work}/readme" README.md)
file(STRINGS "${work}/readme/snippets.txt" manifest REGEX " consumer-cmake ")
list(LENGTH manifest n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "README.md must have one ```cmake block marked consumer-cmake; "
                      "found ${n}")
endif()
string(REPLACE " " ";" entry "${manifest}")
list(GET entry 0 file)
set(consumer "${work}/consumer")
file(REMOVE_RECURSE "${consumer}")
file(MAKE_DIRECTORY "${consumer}")
configure_file("${work}/readme/${file}" "${consumer}/CMakeLists.txt" COPYONLY)
configure_file("${CMAKE_CURRENT_LIST_DIR}/main.cpp" "${consumer}/main.cpp" COPYONLY)
configure_file("${CMAKE_CURRENT_LIST_DIR}/socket_main.cpp" "${consumer}/bridge.cpp" COPYONLY)
set(FLAGS "")  # the library above was built without sanitizers
build_consumer("${consumer}" "${consumer}/build" "${work}/prefix")
file(GLOB programs LIST_DIRECTORIES false "${consumer}/build/*")
set(ran 0)
foreach(program IN LISTS programs)
  get_filename_component(base "${program}" NAME)
  if(NOT base MATCHES "\\.")  # the programs; the build's own files all have a dot
    run("running ${program}" COMMAND "${program}")
    math(EXPR ran "${ran} + 1")
  endif()
endforeach()
if(NOT ran EQUAL 2)
  message(FATAL_ERROR "the README's consumer should build two programs (main.cpp, bridge.cpp); "
                      "ran ${ran}")
endif()
