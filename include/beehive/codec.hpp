// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "beehive/message.hpp"

namespace beehive {

/// Appends the message's compact JSON form to `out`, byte for byte as Go's encoding/json writes
/// it (field order header, route, content; empty optional fields omitted; `route` always there).
/// No trailing newline. Returns `not_serializable` when the content holds a C++ object that has
/// no JSON form; `out` is then left as it was.
[[nodiscard]] expected<void> encode_message(const message& msg, std::string& out);
/// The compact JSON form as a new string.
[[nodiscard]] expected<std::string> encode_message(const message& msg);

/// Decodes one record (compact or not; one trailing '\n' allowed). The content is kept as
/// verbatim JSON text (`content_kind::raw_json`), so forwarding it costs no parse; `null` or an
/// absent content gives null content. Absent fields stay empty (never reused from an earlier
/// message). Returns `protocol_error` for anything that is not one valid message object.
///
/// Follows Go's encoding/json: keys match exactly, else case-insensitively; unknown keys are
/// ignored (but must be valid JSON); `null` for a header or route field leaves it as it was; the
/// last duplicate wins; invalid UTF-8 and lone surrogates in strings become U+FFFD (in the
/// content text as the escape `\ufffd`). Strict otherwise: a wrong field type, a timestamp that
/// is not an int64, a content number beyond float64 range, nesting deeper than 10000, trailing
/// bytes or a non-object top level are errors. Thread-safe (no shared state).
[[nodiscard]] expected<message> decode_message(std::string_view record);

}  // namespace beehive
