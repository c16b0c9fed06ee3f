// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace beehive::detail {

/// One NATS subject token for any string (a module name, a request id): a string of
/// [A-Za-z0-9_-] that does not start with '~' stays as it is; anything else ('.', '*', '>',
/// spaces, non-ASCII, the empty string) becomes '~' + the lowercase hex of its bytes.
/// `decode_token` inverts it. Pure.
[[nodiscard]] std::string encode_token(std::string_view text);
/// The string `token` encodes; nullopt for a '~' token whose hex is not valid.
[[nodiscard]] std::optional<std::string> decode_token(std::string_view token);

/// The subjects of one namespace (`<ns>.<kind>...`).
///
/// - `<ns>.m.<module>.<sender>`: messages for a module, sent by process `sender` (the hosting
///   process subscribes to `<ns>.m.<module>.*`; replicas as one queue group); a one-way record
///   that the sender keeps until it is acknowledged (resent after a failover) carries its
///   number `<stream>-<seq>` as its reply subject (a one-way record has no reply; in the
///   subject, a number unique to each record made the servers miss their subject-match cache
///   on every record);
/// - `<ns>.g.<group>.<sender>`: group batches (`nats_group_batch`: one `send_to_group` call's
///   numbered records for several members at once), sent by process `sender` (a process that
///   hosts a member of the group subscribes to `<ns>.g.<group>.*`);
/// - `<ns>.r.<requester>.<module>.<request id>`: the reply to a sync request sent to `module`
///   (the requester subscribes to `<ns>.r.<requester>.*.*`; "no responders" comes back on it
///   too);
/// - `<ns>.x.<process>`: a process's probe, answered while it is reachable;
/// - `<ns>.c.<sender>`: credits granted back to a sender process (`<module> <n>`, and
///   `<module> <n> <stream>-<seq>` when they also acknowledge every record up to `seq`);
/// - `<ns>.p.hb`, `<ns>.p.bye`, `<ns>.p.hello`: presence (heartbeats carrying a process's
///   modules and groups, a clean leave, a newcomer asking everyone to announce now).
struct subjects {
  explicit subjects(std::string name_space, std::string process);

  [[nodiscard]] std::string module(std::string_view module_name) const;  ///< `<ns>.m.<tok>.<me>`
  [[nodiscard]] std::string module_wildcard(std::string_view module_name) const;
  [[nodiscard]] std::string group(std::string_view group_name) const;  ///< `<ns>.g.<tok>.<me>`
  [[nodiscard]] std::string group_wildcard(std::string_view group_name) const;
  [[nodiscard]] std::string reply_prefix() const { return ns + ".r." + process; }
  [[nodiscard]] std::string reply_wildcard() const { return reply_prefix() + ".*.*"; }
  /// `<ns>.r.<me>.<module>.<request id>`: the module in it tells whom a "no responders" is of.
  [[nodiscard]] std::string reply_to(std::string_view module_name,
                                     std::string_view request_id) const;
  /// `<ns>.x.<process>`: every process answers there while it is reachable.
  [[nodiscard]] std::string probe(std::string_view process_id) const {
    return ns + ".x." + std::string(process_id);
  }
  [[nodiscard]] std::string credits(std::string_view sender) const {
    return ns + ".c." + std::string(sender);
  }
  [[nodiscard]] std::string heartbeat() const { return ns + ".p.hb"; }
  [[nodiscard]] std::string bye() const { return ns + ".p.bye"; }
  [[nodiscard]] std::string hello() const { return ns + ".p.hello"; }
  [[nodiscard]] std::string presence_wildcard() const { return ns + ".p.*"; }

  /// The last token of `subject`, empty if it has no dot.
  [[nodiscard]] static std::string_view last_token(std::string_view subject);

  /// A record's number: its sender's stream (one per sender endpoint life) and its sequence.
  struct sequence {
    std::uint64_t stream = 0;  ///< 0: the record is not numbered
    std::uint64_t seq = 0;
  };
  /// `<stream>-<seq>` (decimal; stream > 0), else nullopt.
  [[nodiscard]] static std::optional<sequence> parse_sequence(std::string_view token);
  /// Sets `out` to `<stream>-<seq>` (no allocation once `out` has grown).
  static void write_sequence(std::string& out, sequence s);

  const std::string ns;
  const std::string process;  ///< this process's id (a token)
};

}  // namespace beehive::detail
