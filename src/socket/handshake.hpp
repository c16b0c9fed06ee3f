// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/message.hpp"
#include "type/context_type.hpp"

namespace beehive::detail {

// The socket handshake as pure functions: no socket, no lock, no context. The socket type reads
// and writes the records; these functions say what the records are and what they must hold.
//
// The exchange, as two Go beehive processes speak it (tests/data/go-records.jsonl):
//  1. the client module writes `make_handshake_request(module)`;
//  2. the server checks that first record (`check_handshake_request`) and answers either
//     `make_handshake_response(request, module_exchange_json(...))` or
//     `make_handshake_refusal(request, why)` (a Go server sends no refusal: it closes);
//  3. the client reads the answer (`read_handshake_response`) into the server's modules and
//     groups, which become its peers.

/// Go's `common.OperationTypeModule` and `common.ResourceTypeModule`: the route of a handshake.
inline constexpr std::string_view handshake_operation = "add";
inline constexpr std::string_view handshake_resource = "module";

/// Where a connection stands in the handshake, as its reader sees it.
enum class handshake_step {
  awaiting_request,   ///< server side: nothing read yet; the first record must be a handshake
  awaiting_response,  ///< client side: our request is out; its answer has not come yet
  established,        ///< the handshake completed: every record is routed
};

/// The step a new connection starts in.
[[nodiscard]] constexpr handshake_step initial_handshake_step(bool server_side) noexcept {
  return server_side ? handshake_step::awaiting_request : handshake_step::awaiting_response;
}

/// What a connection's reader does with a record it read, by the step it is in.
enum class record_role {
  handshake_request,   ///< the server's first record: check it (`check_handshake_request`)
  handshake_response,  ///< the answer to our request: read it (`read_handshake_response`)
  ordinary,            ///< route it (a record that arrives before the answer is routed too)
};

/// The role of `m` on a connection in `step`; `request_id` is the id of our handshake request
/// (client side). Only the record whose `parent_msg_id` is that id answers the handshake.
[[nodiscard]] record_role classify_record(handshake_step step, const message& m,
                                          std::string_view request_id) noexcept;

/// Whether an ordinary record is a reply, for the reply table, rather than a message to route to
/// its `destination`. `awaited`: someone waits for replies to its `parent_msg_id` (the reply
/// table's `waiting`).
///
/// A reply when it has a `parent_msg_id` and someone waits for it, or when its operation is a
/// reply's (`response`, `error`): a reply that comes after its `send_sync` gave up is an orphan,
/// counted, as in process. Any other record with a `parent_msg_id` is a message: Go delivers such
/// a record (the capture's special 4) to its destination, and so must we.
[[nodiscard]] bool is_reply_record(const message& m, bool awaited) noexcept;

// ---- client: the request --------------------------------------------------------------------

/// The handshake a client module writes first, as Go's `exchangeModuleInfo` builds it: a fresh
/// id, now, `sync`, type `unixpacket`, route {source: `module`, operation `add`, resource
/// `module`}, content the empty string.
[[nodiscard]] message make_handshake_request(std::string_view module);

// ---- server: checking the first record ------------------------------------------------------

/// What a server makes of a connection's first record. Every value but `accepted` closes the
/// connection (after a refusal when the record could be decoded).
enum class handshake_result {
  accepted,         ///< a handshake from a module listed as a client
  malformed,        ///< the bytes are not a beehive record
  not_a_handshake,  ///< the route is not {operation `add`, resource `module`}
  no_module,        ///< the handshake names no module (empty `source`)
  not_listed,       ///< the module is not listed as a client in the socket config
  name_taken,       ///< (set by the caller) a module of the server's process has that name
};

/// A one-line reason for a result, used as the refusal's content and in the log.
[[nodiscard]] std::string_view describe(handshake_result r) noexcept;

/// Whether a module name is listed as a client in the socket config
/// (`[&](std::string_view m) { return cfg.client(m) != nullptr; }`).
using client_listed = std::function<bool(std::string_view module)>;

/// Checks a decoded first record: is it a handshake, of which module, is that module listed.
/// Never `malformed` or `name_taken`.
[[nodiscard]] handshake_result check_handshake_request(const message& first,
                                                       const client_listed& listed);

/// The groups the module of an accepted handshake joins: one named after itself, as Go puts
/// it, then the handshake's `route.group` when it names another one.
[[nodiscard]] std::vector<std::string> handshake_groups(const message& request);

/// A server's first record, checked from its bytes.
struct handshake_request {
  handshake_result result = handshake_result::malformed;
  message request;     ///< the decoded record (empty when `malformed`)
  std::string module;  ///< the joining module: the record's `source` (when `accepted`)
  /// The groups the module joins (`handshake_groups`, when `accepted`).
  std::vector<std::string> groups;
};

/// Decodes `record` (one record's bytes, a trailing '\n' allowed) and checks it as
/// `check_handshake_request` does. Never `name_taken`.
[[nodiscard]] handshake_request read_handshake_request(std::string_view record,
                                                       const client_listed& listed);

// ---- server: the answers --------------------------------------------------------------------

/// The content of a server's handshake response, as Go's `GetModuleExchange` marshals it:
/// `{"modules":[...],"groups":{"<group>":[...]}}`.
///
/// Lists the live modules of `members` except those in `leave_out` (the peers: modules of other
/// processes reached over connections), and the server's own socket module `server_module`,
/// which Go always lists, as a module and as a group of its own name, also when the process has
/// no module of that name (a server that only calls `listen()`). Each group lists its listed
/// members; a group with none is left out. Names are sorted (Go writes map keys in byte order;
/// its module order is random) and escaped as Go escapes strings.
[[nodiscard]] std::string module_exchange_json(const membership& members,
                                               std::string_view server_module,
                                               const std::vector<std::string>& leave_out);

/// The server's answer to an accepted handshake, as Go's `NewRespByMessage` + socket `SendResp`
/// make it: `parent_msg_id` = the request's id, type `unixpacket`, route {source and destination:
/// the joining module, operation `response`, resource `module`}, content `exchange_json`
/// (written verbatim: it must be valid JSON, as `module_exchange_json` returns).
[[nodiscard]] message make_handshake_response(const message& request, std::string exchange_json);

/// The server's refusal of a handshake (ours; a Go server closes without one): an error message
/// (`new_error_message`: `parent_msg_id` = the request's id, operation `error`) of type
/// `unixpacket` for the request's `source`, whose content is `describe(why)`.
[[nodiscard]] message make_handshake_refusal(const message& request, handshake_result why);

// ---- client: reading the answer -------------------------------------------------------------

/// The modules and groups a server hosts, as its handshake response lists them.
struct module_exchange {
  std::vector<std::string> modules;  ///< in the order listed, each once
  std::map<std::string, std::vector<std::string>, std::less<>> groups;  ///< group -> members

  /// The groups that list `module`, sorted.
  [[nodiscard]] std::vector<std::string> groups_of(std::string_view module) const;
};

/// What a client makes of its handshake's answer.
enum class response_result {
  accepted,   ///< a response (operation `response`) whose content is a module exchange
  refused,    ///< the server refused (any other operation; ours sends `error`)
  malformed,  ///< a response whose content is not `{"modules":[names],"groups":{name:[names]}}`
};

/// A client's reading of the answer to its handshake.
struct handshake_response {
  response_result result = response_result::malformed;
  module_exchange exchange;  ///< the server's modules and groups (when `accepted`)
  std::string reason;        ///< the refusal's text, or what is malformed
};

/// Reads the answer to a handshake (a record whose `parent_msg_id` is the request's id, see
/// `classify_record`). `self` is the client module: Go's client skips its own name in the
/// module list, and so does this (its groups are kept, as Go keeps them).
///
/// As Go's `json.Unmarshal` into its `ModuleExchange`: an absent or null `modules` or `groups`
/// is empty, a null group is an empty one; anything else of the wrong type is `malformed`.
/// Unlike Go, an empty module name is `malformed` too (no module can have it), and a name
/// listed twice is kept once.
[[nodiscard]] handshake_response read_handshake_response(const message& answer,
                                                         std::string_view self);

/// The module exchange in `answer`'s content (see `read_handshake_response`), whatever its
/// operation: `accepted` or `malformed`.
[[nodiscard]] handshake_response read_exchange(const message& answer, std::string_view self);

// ---- presence: the server's modules added or removed after the handshake ---------------------
//
// Go's handshake is the only time a Go server tells a client its modules. Ours also tells a
// client of later changes, but only a client that asks, so that a Go peer never sees a record it
// does not know:
//  1. once established, our client writes `make_presence_subscription(module)`: resource
//     `module`, operation `presence`. A Go server ignores it: it handles a record of resource
//     `module` itself (never forwards it) and acts on operation `add` only.
//  2. our server answers at once, and after every change of its modules, with
//     `make_presence_update`: the full module exchange, as in the handshake's answer. A record
//     carries the whole state, not a change, so a lost one (a full outbound queue) is repaired
//     by the next. A Go client never subscribes, so it never gets one.

/// The operation of presence records (with resource `module`).
inline constexpr std::string_view presence_operation = "presence";

/// Whether an ordinary record is a presence subscription or update (not a message to route).
[[nodiscard]] bool is_presence_record(const message& m) noexcept;
/// What a client module writes to subscribe: type `unixpacket`, route {source `module`,
/// operation `presence`, resource `module`}, content the empty string.
[[nodiscard]] message make_presence_subscription(std::string_view module);
/// What a server writes to a subscribed client `peer`: route {source `server_module`,
/// destination `peer`, operation `presence`, resource `module`}, content `exchange_json`
/// (`module_exchange_json`, written verbatim). Read it with `read_exchange`.
[[nodiscard]] message make_presence_update(std::string_view server_module, std::string_view peer,
                                           std::string exchange_json);

}  // namespace beehive::detail