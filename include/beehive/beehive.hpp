// SPDX-License-Identifier: Apache-2.0
#pragma once

// The whole API of beehive::beehive: messages, the context, modules and the core.
// The socket context type is in `beehive/socket.hpp` (target beehive::socket).

#include "beehive/codec.hpp"
#include "beehive/content.hpp"
#include "beehive/context.hpp"
#include "beehive/core.hpp"
#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module.hpp"
#include "beehive/module_options.hpp"
#include "beehive/signal_waiter.hpp"
