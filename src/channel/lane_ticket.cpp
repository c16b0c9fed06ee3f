// SPDX-License-Identifier: Apache-2.0
#include "channel/lane_ticket.hpp"

#include <algorithm>
#include <string_view>

namespace beehive::detail {

namespace {

std::string_view field_of(const message& m, route_field f) {
  switch (f) {
    case route_field::operation:
      return m.route.operation;
    case route_field::resource:
      return m.route.resource;
    case route_field::group:
      return m.route.group;
    case route_field::source:
      return m.route.source;
  }
  return {};
}

}  // namespace

lane_ticket make_ticket(const inbox_options& o, const message& msg) {
  lane_ticket t;
  const std::size_t count = o.lanes.lanes.size();
  if (count > 1) {
    if (o.lanes.classify) {
      t.lane = o.lanes.classify(msg);
    } else {
      t.lane = o.lanes.default_lane;
      for (const auto& r : o.lanes.rules) {
        if (field_of(msg, r.field) == r.value) {
          t.lane = r.lane;
          break;
        }
      }
    }
    t.lane = std::min(t.lane, count - 1);
  }
  // A sync message never coalesces: its caller waits for that message's own reply.
  if (o.coalescing.enabled && !msg.header.sync) {
    if (o.coalescing.key) {
      t.key = o.coalescing.key(msg);
    } else {
      const std::string_view res = msg.route.resource;
      const std::string_view op = msg.route.operation;
      t.key.reserve(res.size() + op.size() + 1);
      t.key.append(res).push_back('\0');  // '\0' keeps ("a","bc") apart from ("ab","c")
      t.key.append(op);
    }
  }
  return t;
}

}  // namespace beehive::detail
