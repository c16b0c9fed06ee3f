// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "beehive/codec.hpp"
#include "beehive/content.hpp"
#include "beehive/context.hpp"
#include "beehive/core.hpp"
#include "beehive/errc.hpp"
#include "beehive/message.hpp"
#include "beehive/module.hpp"
#include "beehive/module_options.hpp"
#include "beehive/socket_config.hpp"
#include "beehive/socket_context.hpp"
