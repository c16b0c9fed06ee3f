// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "beehive/content.hpp"
#include "beehive/short_string.hpp"

namespace beehive {

// Operations (Go: model.InsertOperation, ...).
inline constexpr std::string_view insert_operation = "insert";
inline constexpr std::string_view delete_operation = "delete";
inline constexpr std::string_view query_operation = "query";
inline constexpr std::string_view update_operation = "update";
inline constexpr std::string_view patch_operation = "patch";
inline constexpr std::string_view upload_operation = "upload";
inline constexpr std::string_view response_operation = "response";
inline constexpr std::string_view response_error_operation = "error";
inline constexpr std::string_view unhold_upgrade_operation = "unhold-upgrade";

// Resource types (Go: model.ResourceTypePod, ...).
inline constexpr std::string_view resource_type_pod = "pod";
inline constexpr std::string_view resource_type_event = "event";
inline constexpr std::string_view resource_type_configmap = "configmap";
inline constexpr std::string_view resource_type_service_account_token = "serviceaccounttoken";
inline constexpr std::string_view resource_type_secret = "secret";
inline constexpr std::string_view resource_type_node = "node";
inline constexpr std::string_view resource_type_podlist = "podlist";
inline constexpr std::string_view resource_type_pod_status = "podstatus";
inline constexpr std::string_view resource_type_pod_patch = "podpatch";
inline constexpr std::string_view resource_type_node_status = "nodestatus";
inline constexpr std::string_view resource_type_node_patch = "nodepatch";
inline constexpr std::string_view resource_type_rule = "rule";
inline constexpr std::string_view resource_type_rule_endpoint = "ruleendpoint";
inline constexpr std::string_view resource_type_rule_status = "rulestatus";
inline constexpr std::string_view resource_type_lease = "lease";
inline constexpr std::string_view resource_type_service_account_access = "serviceaccountaccess";
inline constexpr std::string_view resource_type_certificate_signing_request =
    "certificatesigningrequest";
inline constexpr std::string_view resource_type_k8s_ca = "k8s/ca.crt";

// Context types (Go: common.MsgCtxTypeChannel, common.MsgCtxTypeUS).
inline constexpr std::string_view context_type_channel = "channel";
inline constexpr std::string_view context_type_unixpacket = "unixpacket";

/// Go's `MessageHeader`. JSON: msg_id, parent_msg_id?, timestamp, resourceversion?, sync?, type?
///
/// The strings are `short_string`s sized so that ordinary values (a UUID, a context type, a
/// resource version) are held inline: building, copying and moving a header allocates nothing.
struct message_header {
  short_string<39> id;                ///< UUID v4 string (36 bytes, inline)
  short_string<39> parent_id;         ///< id of the request this message answers; empty otherwise
  std::int64_t timestamp = 0;         ///< Unix milliseconds
  short_string<21> resource_version;  ///< version of the Kubernetes resource (etcd revision)
  bool sync = false;                  ///< set by send_sync: the sender waits for a reply
  short_string<16> type;              ///< context type of the message; empty means "channel"

  friend bool operator==(const message_header&, const message_header&) = default;
};

/// Go's `MessageRoute`. JSON: source?, destination?, group?, operation?, resource?
///
/// Module and group names and operations up to 23 bytes, resources up to 31, are held inline.
struct message_route {
  short_string<23> source;
  short_string<23> destination;
  short_string<23> group;
  short_string<23> operation;
  short_string<31> resource;

  friend bool operator==(const message_route&, const message_route&) = default;
};

/// A beehive message: header, route and content (Go's `model.Message`).
///
/// A plain value of 272 bytes on a 64-bit target (320 when its strings were std::string) that
/// holds ordinary ids and names without a heap allocation: building one with `new_message()`
/// and `build_router(...)`, copying it and moving it allocate nothing (the content is shared,
/// never deep-copied). Longer strings fall back to the heap.
///
/// The setters return `*this` so they chain as Go's do; on a temporary they return an rvalue,
/// so a chain that starts with `new_message()` moves into a `message&&` parameter without a copy.
/// Keep such a chain's result in a `message` (as below), never in a reference: the temporary
/// dies at the end of the statement.
///
/// @code
/// auto msg = beehive::new_message()
///                .build_router("edged", "meta", beehive::resource_type_pod,
///                              beehive::insert_operation)
///                .fill_body(beehive::content::from_object(my_pod));
/// @endcode
struct message {
  message_header header;
  message_route route;
  beehive::content content;

  message& build_router(std::string_view source, std::string_view group, std::string_view resource,
                        std::string_view operation) &;
  message&& build_router(std::string_view source, std::string_view group, std::string_view resource,
                         std::string_view operation) &&;
  message& build_header(std::string_view id, std::string_view parent_id, std::int64_t timestamp) &;
  message&& build_header(std::string_view id, std::string_view parent_id,
                         std::int64_t timestamp) &&;
  message& set_route(std::string_view source, std::string_view group) &;
  message&& set_route(std::string_view source, std::string_view group) &&;
  message& set_resource_operation(std::string_view resource, std::string_view operation) &;
  message&& set_resource_operation(std::string_view resource, std::string_view operation) &&;
  message& set_type(std::string_view type) &;
  message&& set_type(std::string_view type) &&;
  message& set_destination(std::string_view destination) &;
  message&& set_destination(std::string_view destination) &&;
  message& set_resource_version(std::string_view resource_version) &;
  message&& set_resource_version(std::string_view resource_version) &&;
  message& fill_body(beehive::content body) &;
  message&& fill_body(beehive::content body) &&;
  /// Gives the message a fresh id.
  message& update_id() &;
  message&& update_id() &&;

  /// A copy with a fresh id; everything else (content shared) is the same.
  [[nodiscard]] message clone() const;
  /// True when the message is the zero value (no id, no route, no content).
  [[nodiscard]] bool is_empty() const noexcept;
  /// One-line form: "MessageID: ..., ParentID: ..., Source: ..., ...".
  [[nodiscard]] std::string to_string() const;
  /// Go's GetContentData: bytes as they are, a string as its bytes, anything else as JSON text.
  [[nodiscard]] expected<std::string> content_data() const;
};

static_assert(sizeof(void*) != 8 || sizeof(message) == 272,
              "a message is 272 bytes on a 64-bit target; update the comments when this changes");

/// A fresh UUID v4 string. Never makes a syscall after the calling thread's first call.
[[nodiscard]] std::string new_uuid();
/// Current time as Unix milliseconds.
[[nodiscard]] std::int64_t now_unix_ms() noexcept;

/// Go's NewMessage: fresh id, the given parent id, timestamp now.
[[nodiscard]] message new_message(std::string_view parent_id = {});
/// Go's NewRawMessage: the zero message.
[[nodiscard]] message new_raw_message();
/// Go's NewRespByMessage: parent = request id, same source and group, same resource,
/// operation `response`, same type, the given content.
[[nodiscard]] message new_resp_by_message(const message& request, beehive::content body);
/// Go's NewErrorMessage: parent = request id, same resource, operation `error`, same type,
/// the error text as content.
[[nodiscard]] message new_error_message(const message& request, std::string error_text);

}  // namespace beehive
