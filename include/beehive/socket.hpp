// SPDX-License-Identifier: Apache-2.0
#pragma once

// The socket context type (`unixpacket`): modules of other processes join over a unix socket.
// Link `beehive::socket` (library beehive_socket) to use it; `beehive/beehive.hpp` does not
// include it, so that a program of channels alone needs neither yaml-cpp nor asio.

#include "beehive/socket_config.hpp"
#include "beehive/socket_context.hpp"
