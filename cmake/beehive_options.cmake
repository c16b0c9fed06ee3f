# SPDX-License-Identifier: Apache-2.0
# One INTERFACE target carries the standard, the warnings and the sanitizers; every target of
# the project links it PRIVATE.
add_library(beehive_options INTERFACE)
target_compile_features(beehive_options INTERFACE cxx_std_20)
target_compile_options(beehive_options INTERFACE
  -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wnon-virtual-dtor
  $<$<BOOL:${BEEHIVE_WERROR}>:-Werror>)
if(BEEHIVE_SANITIZE)
  list(JOIN BEEHIVE_SANITIZE "," _beehive_san)
  target_compile_options(beehive_options INTERFACE -fsanitize=${_beehive_san} -fno-omit-frame-pointer
                         -fno-sanitize-recover=all)
  target_link_options(beehive_options INTERFACE -fsanitize=${_beehive_san})
endif()
