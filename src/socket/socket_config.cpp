// SPDX-License-Identifier: Apache-2.0
#include "beehive/socket_config.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/config_file.hpp"
#include "core/log.hpp"

namespace beehive {
namespace {

tl::unexpected<std::error_code> fail(std::string text, std::string* why) {
  detail::log().error("socket config: {}", text);
  if (why != nullptr) *why = std::move(text);
  return unexpected(errc::config_error);
}

// One item of `lanes`: its options, and its rules (pointing at lane `index`).
bool parse_lane(const YAML::Node& node, std::size_t index, lanes_options& out, std::string& err) {
  if (!node.IsMap()) {
    err = "a lane is not a map";
    return false;
  }
  lane_options lane;
  for (const auto& kv : node) {
    const auto field = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (field == "capacity") {
      const auto n = v.as<long long>();
      if (n <= 0) {
        err = "a lane's capacity must be > 0";
        return false;
      }
      lane.capacity = static_cast<std::size_t>(n);
    } else if (field == "overflow") {
      const auto p = v.as<std::string>();
      if (p == "block") {
        lane.overflow = overflow_policy::block;
      } else if (p == "fail") {
        lane.overflow = overflow_policy::fail;
      } else if (p == "drop_oldest") {
        lane.overflow = overflow_policy::drop_oldest;
      } else {
        err = "overflow '" + p + "' is not supported (block, fail, drop_oldest)";
        return false;
      }
    } else if (field == "blocktimeoutms") {
      lane.block_timeout = std::chrono::milliseconds(v.as<long long>());
    } else if (field == "default") {
      if (v.as<bool>()) out.default_lane = index;
    } else if (field == "operation" || field == "resource" || field == "group" ||
               field == "source") {
      const route_field f = field == "operation"  ? route_field::operation
                            : field == "resource" ? route_field::resource
                            : field == "group"    ? route_field::group
                                                  : route_field::source;
      out.rules.push_back({f, v.as<std::string>(), index});
    } else {
      err = "unknown lane key '" + field + "'";
      return false;
    }
  }
  out.lanes.push_back(lane);
  return true;
}

}  // namespace

const socket_entry* socket_config::server() const noexcept {
  for (const auto& e : entries) {
    if (e.server) return &e;
  }
  return nullptr;
}

const socket_entry* socket_config::client(std::string_view module) const noexcept {
  for (const auto& e : entries) {
    if (!e.server && e.module == module) return &e;
  }
  return nullptr;
}

expected<socket_config> parse_socket_config(std::string_view yaml, std::string* why) {
  // yaml-cpp reports errors by exceptions; they stop here and become config_error.
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return fail(fmt::format("not valid YAML: {}", e.what()), why);
  }
  socket_config cfg;
  if (root.IsNull()) return fail("empty configuration: expected a list of socket entries", why);
  if (!root.IsSequence()) return fail("expected a list of socket entries at the top level", why);
  std::size_t index = 0;
  for (const auto& node : root) {
    ++index;
    if (!node.IsMap()) return fail(fmt::format("entry {} is not a map", index), why);
    socket_entry e;
    std::string field;
    try {
      for (const auto& kv : node) {
        field = kv.first.as<std::string>();
        const YAML::Node& v = kv.second;
        if (field == "module") {
          e.module = v.as<std::string>();
        } else if (field == "server") {
          e.server = v.as<bool>();
        } else if (field == "address") {
          e.address = v.as<std::string>();
        } else if (field == "sockettype") {
          e.socket_type = v.as<std::string>();
        } else if (field == "connmax") {
          e.conn_max = v.as<int>();
        } else if (field == "buffersize") {
          const auto n = v.as<long long>();
          if (n <= 0) return fail(fmt::format("entry {}: buffersize must be > 0", index), why);
          e.buffer_size = static_cast<std::size_t>(n);
        } else if (field == "ca") {
          e.ca = v.as<std::string>();
        } else if (field == "cert") {
          e.cert = v.as<std::string>();
        } else if (field == "key") {
          e.key = v.as<std::string>();
        } else if (field == "lanes") {
          if (!v.IsSequence() || v.size() == 0) {
            return fail(fmt::format("entry {}: lanes must be a non-empty list", index), why);
          }
          e.lanes.default_lane = v.size() - 1;
          std::string err;
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (!parse_lane(v[i], i, e.lanes, err)) {
              return fail(fmt::format("entry {}: lane {}: {}", index, i, err), why);
            }
          }
        } else if (field == "starvationbound") {
          const auto n = v.as<long long>();
          if (n < 0) return fail(fmt::format("entry {}: starvationbound must be >= 0", index), why);
          e.lanes.starvation_bound = static_cast<std::size_t>(n);
        } else if (field == "coalescing") {
          e.coalescing = v.as<bool>();
        } else if (field == "framing") {
          const auto f = v.as<std::string>();
          if (f == "newline") {
            e.framing = stream_framing::newline;
          } else if (f == "package") {
            e.framing = stream_framing::package;
          } else {
            return fail(
                fmt::format("entry {}: framing '{}' is not supported (newline, package)", index, f),
                why);
          }
        }
        // Unknown fields are ignored, as Go's yaml.Unmarshal does.
      }
    } catch (const YAML::Exception& ex) {
      return fail(
          fmt::format("entry {}: field '{}' has the wrong type ({})", index, field, ex.what()),
          why);
    }
    if (e.module.empty()) return fail(fmt::format("entry {}: 'module' is missing", index), why);
    if (e.address.empty()) {
      return fail(fmt::format("entry {} ({}): 'address' is missing", index, e.module), why);
    }
    if (e.socket_type.empty()) e.socket_type = std::string(socket_type_unixpacket);
    if (e.socket_type != socket_type_unixpacket && e.socket_type != socket_type_unix) {
      return fail(fmt::format("entry {} ({}): sockettype '{}' is not supported (unixpacket, unix)",
                              index, e.module, e.socket_type),
                  why);
    }
    if (e.conn_max < 0) {
      return fail(fmt::format("entry {} ({}): connmax must be >= 0", index, e.module), why);
    }
    // No entry goes without a limit: an unset (or 0) connmax means the default one.
    if (e.conn_max == 0) e.conn_max = socket_conn_max_default;
    cfg.entries.push_back(std::move(e));
  }
  return cfg;
}

expected<socket_config> load_socket_config(const std::string& path, std::string* why) {
  const auto text = detail::read_config_file(path);
  if (!text) return fail(fmt::format("cannot read '{}'", path), why);
  std::string inner;
  auto cfg = parse_socket_config(*text, &inner);
  if (!cfg) return fail(fmt::format("'{}': {}", path, inner), why);
  return cfg;
}

expected<socket_config> load_socket_config_from_env(std::string* why) {
  return load_socket_config(
      detail::config_path_from_env(socket_config_env, socket_config_default_path), why);
}

}  // namespace beehive
