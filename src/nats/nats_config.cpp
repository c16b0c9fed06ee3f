// SPDX-License-Identifier: Apache-2.0
#include "beehive/nats_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/config_file.hpp"
#include "core/log.hpp"

namespace beehive {
namespace {

tl::unexpected<std::error_code> fail(std::string text, std::string* why) {
  detail::log().error("nats config: {}", text);
  if (why != nullptr) *why = std::move(text);
  return unexpected(errc::config_error);
}

bool valid_namespace(std::string_view ns) {
  if (ns.empty() || ns.front() == '.' || ns.back() == '.') return false;
  char prev = 0;
  for (const char c : ns) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

// A key's reader: converts the node into the config, or says why it cannot (the caller names
// the key).
using reader = std::function<std::string(const YAML::Node&, nats_config&)>;

std::string as_string(const YAML::Node& v, std::string& out) {
  if (!v.IsScalar()) return "expected a string";
  out = v.as<std::string>();
  return {};
}

std::string as_millis(const YAML::Node& v, std::chrono::milliseconds& out, long long min) {
  if (!v.IsScalar()) return "expected a number of milliseconds";
  const auto n = v.as<long long>();
  if (n < min) return fmt::format("must be >= {} (milliseconds)", min);
  out = std::chrono::milliseconds(n);
  return {};
}

std::string as_count(const YAML::Node& v, std::size_t& out, long long min) {
  if (!v.IsScalar()) return "expected a number";
  const auto n = v.as<long long>();
  if (n < min) return fmt::format("must be >= {}", min);
  out = static_cast<std::size_t>(n);
  return {};
}

const std::map<std::string, reader, std::less<>>& readers() {
  static const std::map<std::string, reader, std::less<>> table = {
      {"servers",
       [](const YAML::Node& v, nats_config& c) -> std::string {
         c.servers.clear();
         if (v.IsScalar()) {
           c.servers.push_back(v.as<std::string>());
           return {};
         }
         if (!v.IsSequence()) return "expected a list of URLs";
         for (const auto& s : v) {
           if (!s.IsScalar()) return "expected a list of URLs";
           c.servers.push_back(s.as<std::string>());
         }
         return {};
       }},
      {"namespace", [](const YAML::Node& v, nats_config& c) { return as_string(v, c.name_space); }},
      {"credentials.user",
       [](const YAML::Node& v, nats_config& c) { return as_string(v, c.user); }},
      {"credentials.password",
       [](const YAML::Node& v, nats_config& c) { return as_string(v, c.password); }},
      {"credentials.token",
       [](const YAML::Node& v, nats_config& c) { return as_string(v, c.token); }},
      {"credentials.creds",
       [](const YAML::Node& v, nats_config& c) { return as_string(v, c.creds_file); }},
      {"credentials.nkey",
       [](const YAML::Node& v, nats_config& c) { return as_string(v, c.nkey_file); }},
      {"credentials.nkey_public",
       [](const YAML::Node& v, nats_config& c) { return as_string(v, c.nkey_public); }},
      {"tls.ca", [](const YAML::Node& v, nats_config& c) { return as_string(v, c.tls_ca); }},
      {"tls.cert", [](const YAML::Node& v, nats_config& c) { return as_string(v, c.tls_cert); }},
      {"tls.key", [](const YAML::Node& v, nats_config& c) { return as_string(v, c.tls_key); }},
      {"timeouts.connect",
       [](const YAML::Node& v, nats_config& c) { return as_millis(v, c.connect_timeout, 1); }},
      {"timeouts.ping_interval",
       [](const YAML::Node& v, nats_config& c) { return as_millis(v, c.ping_interval, 10); }},
      {"timeouts.max_pings_out",
       [](const YAML::Node& v, nats_config& c) -> std::string {
         std::size_t n = 0;
         auto e = as_count(v, n, 1);
         if (e.empty() && n > 1000) return "must be <= 1000";
         c.max_pings_out = static_cast<int>(n);
         return e;
       }},
      {"timeouts.write_deadline",
       [](const YAML::Node& v, nats_config& c) { return as_millis(v, c.write_deadline, 1); }},
      {"timeouts.presence_interval",
       [](const YAML::Node& v, nats_config& c) { return as_millis(v, c.presence_interval, 10); }},
      {"timeouts.reconnect_wait",
       [](const YAML::Node& v, nats_config& c) { return as_millis(v, c.reconnect_wait, 0); }},
      {"flow.window",
       [](const YAML::Node& v, nats_config& c) -> std::string {
         auto e = as_count(v, c.flow_window, 2);
         if (e.empty() && c.flow_window > 1000000) return "must be <= 1000000";
         return e;
       }},
      {"flow.window_bytes",
       [](const YAML::Node& v, nats_config& c) -> std::string {
         auto e = as_count(v, c.flow_window_bytes, 4096);
         if (e.empty() && c.flow_window_bytes > (std::size_t{1} << 30)) {
           return "must be <= 1073741824";
         }
         return e;
       }},
      {"flow.max_pending",
       [](const YAML::Node& v, nats_config& c) -> std::string {
         auto e = as_count(v, c.max_pending, 0);
         if (e.empty() && c.max_pending > 1000000000) return "must be <= 1000000000";
         return e;
       }},
      {"flow.reconnect_buffer",
       [](const YAML::Node& v, nats_config& c) { return as_count(v, c.reconnect_buffer, 1024); }},
      {"flow.batch_linger_us",
       [](const YAML::Node& v, nats_config& c) -> std::string {
         std::size_t us = 0;
         auto e = as_count(v, us, 0);
         if (e.empty() && us > 1000000) return "must be <= 1000000";
         c.batch_linger = std::chrono::microseconds(static_cast<std::int64_t>(us));
         return e;
       }},
      {"replicas",
       [](const YAML::Node& v, nats_config& c) -> std::string {
         if (!v.IsSequence()) return "expected a list of module names";
         for (const auto& s : v) {
           if (!s.IsScalar() || s.as<std::string>().empty()) return "expected module names";
           c.replicas.push_back(s.as<std::string>());
         }
         return {};
       }},
  };
  return table;
}

// The sections whose keys are `section.key`.
bool is_section(std::string_view key) {
  return key == "credentials" || key == "tls" || key == "timeouts" || key == "flow";
}

}  // namespace

bool nats_config::is_replica(std::string_view module) const noexcept {
  return std::find(replicas.begin(), replicas.end(), module) != replicas.end();
}

expected<nats_config> parse_nats_config(std::string_view yaml, std::string* why) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return fail(fmt::format("not valid YAML: {}", e.what()), why);
  }
  nats_config cfg;
  if (root.IsNull()) return cfg;  // an empty file: every default
  if (!root.IsMap()) return fail("expected a map at the top level", why);
  std::string key;
  try {
    auto apply = [&](const std::string& k, const YAML::Node& v) -> std::string {
      key = k;
      auto r = readers().find(k);
      if (r == readers().end()) return "unknown key";
      return r->second(v, cfg);
    };
    for (const auto& kv : root) {
      const auto top = kv.first.as<std::string>();
      if (is_section(top)) {
        key = top;
        if (kv.second.IsNull()) continue;
        if (!kv.second.IsMap()) return fail(fmt::format("'{}': expected a map", top), why);
        for (const auto& inner : kv.second) {
          const auto k = top + "." + inner.first.as<std::string>();
          if (auto e = apply(k, inner.second); !e.empty()) {
            return fail(fmt::format("'{}': {}", k, e), why);
          }
        }
      } else if (auto e = apply(top, kv.second); !e.empty()) {
        return fail(fmt::format("'{}': {}", top, e), why);
      }
    }
  } catch (const YAML::Exception& ex) {
    return fail(fmt::format("'{}': wrong type ({})", key, ex.what()), why);
  }
  if (cfg.servers.empty()) return fail("'servers': at least one URL is needed", why);
  for (const auto& s : cfg.servers) {
    if (s.empty()) return fail("'servers': an empty URL", why);
  }
  if (!valid_namespace(cfg.name_space)) {
    return fail(fmt::format("'namespace': '{}' is not subject tokens ([A-Za-z0-9_-], dots "
                            "between tokens)",
                            cfg.name_space),
                why);
  }
  if (cfg.tls_cert.empty() != cfg.tls_key.empty()) {
    return fail(fmt::format("'{}': a client certificate needs both tls.cert and tls.key",
                            cfg.tls_cert.empty() ? "tls.cert" : "tls.key"),
                why);
  }
  if (!cfg.password.empty() && cfg.user.empty()) {
    return fail("'credentials.user': a password needs a user", why);
  }
  if (cfg.nkey_file.empty() != cfg.nkey_public.empty()) {
    return fail(fmt::format("'{}': an nkey needs both credentials.nkey and "
                            "credentials.nkey_public",
                            cfg.nkey_file.empty() ? "credentials.nkey" : "credentials.nkey_public"),
                why);
  }
  const int ways = (cfg.user.empty() ? 0 : 1) + (cfg.token.empty() ? 0 : 1) +
                   (cfg.creds_file.empty() ? 0 : 1) + (cfg.nkey_file.empty() ? 0 : 1);
  if (ways > 1) {
    return fail("'credentials': give one of user/password, token, creds or nkey", why);
  }
  return cfg;
}

expected<nats_config> load_nats_config(const std::string& path, std::string* why) {
  const auto text = detail::read_config_file(path);
  if (!text) return fail(fmt::format("cannot read '{}'", path), why);
  std::string inner;
  auto cfg = parse_nats_config(*text, &inner);
  if (!cfg) return fail(fmt::format("'{}': {}", path, inner), why);
  return cfg;
}

expected<nats_config> load_nats_config_from_env(std::string* why) {
  return load_nats_config(detail::config_path_from_env(nats_config_env, nats_config_default_path),
                          why);
}

}  // namespace beehive
