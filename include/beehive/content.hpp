// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "beehive/errc.hpp"

namespace beehive {

/// Raw bytes, Go's `[]byte`. Travels across processes as a base64 JSON string, as Go does.
using bytes = std::vector<std::uint8_t>;

/// What a `content` holds.
enum class content_kind {
  null,      ///< nothing (Go's nil); encodes as JSON `null`
  string,    ///< a string; encodes as a JSON string
  binary,    ///< raw bytes (`beehive::bytes`); encodes as a base64 JSON string
  json,      ///< a parsed JSON value (nlohmann::json)
  raw_json,  ///< validated JSON text kept verbatim, as it came off the wire; parsed on demand
  object,    ///< an arbitrary C++ object passed inside one process without serialization
};

/// The body of a message: what Go holds in `interface{}`.
///
/// Immutable once built and cheap to copy: copies share one payload through a reference count,
/// so moving a message never copies its content and a group broadcast shares one content among
/// all members. Thread-safe for concurrent reads.
///
/// @code
/// beehive::content c = beehive::content::make_object<pod>(pod{"nginx"});
/// if (const pod* p = c.if_object<pod>()) use(*p);        // same process, no serialization
/// auto p2 = c.get<pod>();                                 // works after a socket hop too
/// @endcode
class content {
 public:
  /// Null content (Go's nil).
  content() noexcept = default;
  /// A string.
  content(std::string s);       // NOLINT(google-explicit-constructor): Go passes strings freely
  content(const char* s);       // NOLINT(google-explicit-constructor)
  content(std::string_view s);  // NOLINT(google-explicit-constructor)
  /// Raw bytes (Go's `[]byte`).
  content(bytes b);  // NOLINT(google-explicit-constructor)
  /// A JSON value.
  content(nlohmann::json j);  // NOLINT(google-explicit-constructor)

  /// JSON text kept verbatim. Returns `protocol_error` when `text` is not one valid JSON value.
  [[nodiscard]] static expected<content> from_json_text(std::string text);
  /// JSON text known to be valid (the decoder has checked it); not validated again. The text
  /// is copied into the content's one allocation.
  [[nodiscard]] static content from_trusted_json_text(std::string_view text);

  /// An arbitrary C++ object, retrievable with `if_object<T>()`; JSON-encodable across processes
  /// when nlohmann::json can convert `T`.
  template <class T, class... Args>
  [[nodiscard]] static content make_object(Args&&... args) {
    content c;
    c.p_ = std::make_shared<object_holder<T>>(std::in_place, std::forward<Args>(args)...);
    return c;
  }
  /// An arbitrary C++ object, as `make_object<std::decay_t<T>>`: an rvalue is moved in (a
  /// move-only type works), an lvalue copied once. Retrieve it with `if_object<T>()`.
  template <class T>
  [[nodiscard]] static content from_object(T&& value) {
    return make_object<std::decay_t<T>>(std::forward<T>(value));
  }

  [[nodiscard]] content_kind kind() const noexcept { return p_ ? p_->kind() : content_kind::null; }
  [[nodiscard]] bool is_null() const noexcept { return !p_; }

  /// The string, when kind() is `string`; else nullptr.
  [[nodiscard]] const std::string* if_string() const noexcept;
  /// The bytes, when kind() is `binary`; else nullptr.
  [[nodiscard]] const bytes* if_bytes() const noexcept;
  /// The JSON value, when kind() is `json`; else nullptr.
  [[nodiscard]] const nlohmann::json* if_json() const noexcept;
  /// The verbatim JSON text, when kind() is `raw_json`; else empty.
  [[nodiscard]] std::string_view raw_json() const noexcept;
  /// The object, when kind() is `object` and it holds exactly a `T`; else nullptr.
  template <class T>
  [[nodiscard]] const T* if_object() const noexcept {
    auto* h = dynamic_cast<const object_holder<T>*>(p_.get());
    return h ? &h->value : nullptr;
  }

  /// The content as a JSON value: parses raw JSON, converts strings, base64-encodes bytes.
  /// Returns `not_serializable` for an object without a JSON form, `protocol_error` never
  /// (raw JSON was validated on entry).
  [[nodiscard]] expected<nlohmann::json> to_json() const;
  /// The content as a string: a string as is, a JSON string decoded.
  /// Returns `type_mismatch` for anything else.
  [[nodiscard]] expected<std::string> to_string() const;
  /// The content as bytes: bytes as they are, a JSON string base64-decoded (how `[]byte`
  /// crosses a socket). Returns `type_mismatch` for anything else or for malformed base64.
  [[nodiscard]] expected<bytes> to_bytes() const;
  /// The content as a `T`: the object itself when it holds a `T`, else converted from JSON.
  /// Returns `type_mismatch` when the conversion fails, `not_serializable` when the content is
  /// an object of another type without a JSON form.
  template <class T>
  [[nodiscard]] expected<T> get() const {
    if (const T* p = if_object<T>()) return *p;
    if constexpr (std::is_same_v<T, std::string>) {
      return to_string();
    } else if constexpr (std::is_same_v<T, bytes>) {
      return to_bytes();
    } else {
      auto j = to_json();
      if (!j) return unexpected(j.error());
      try {
        return j->template get<T>();
      } catch (const nlohmann::json::exception&) {
        return unexpected(errc::type_mismatch);
      }
    }
  }

  /// Appends the content's compact JSON text (Go's encoding/json form) to `out`.
  [[nodiscard]] expected<void> write_json(std::string& out) const;
  /// The compact JSON text.
  [[nodiscard]] expected<std::string> json_text() const;

  /// True when both share one payload (no copy happened).
  [[nodiscard]] bool shares_payload_with(const content& other) const noexcept {
    return p_ && p_ == other.p_;
  }

 private:
  /// The type-erased immutable payload that every copy of a content shares.
  class holder {
   public:
    holder() = default;
    holder(const holder&) = delete;
    holder& operator=(const holder&) = delete;
    virtual ~holder();
    [[nodiscard]] virtual content_kind kind() const noexcept = 0;
    /// Appends compact JSON text (Go's encoding/json form) to `out`.
    [[nodiscard]] virtual expected<void> write_json(std::string& out) const = 0;
    /// The payload as a JSON value; `not_serializable` when it has none.
    [[nodiscard]] virtual expected<nlohmann::json> to_json() const = 0;
  };
  // The holders of the built-in kinds, defined in content.cpp.
  class string_holder;
  class bytes_holder;
  class json_holder;
  class raw_json_holder;

  /// True when nlohmann::json can be built from a `T` (the object has a JSON form).
  template <class T>
  static constexpr bool has_json_form = requires(nlohmann::json& j, const T& v) {
    j = v;
  };

  /// Appends `j` as compact JSON with Go's escaping rules (<, >, & and U+2028/9 escaped).
  static void write_go_json(const nlohmann::json& j, std::string& out);

  template <class T>
  class object_holder final : public holder {
   public:
    template <class... Args>
    explicit object_holder(std::in_place_t, Args&&... args) : value(std::forward<Args>(args)...) {}
    [[nodiscard]] content_kind kind() const noexcept override { return content_kind::object; }
    [[nodiscard]] expected<void> write_json(std::string& out) const override {
      if constexpr (has_json_form<T>) {
        write_go_json(nlohmann::json(value), out);
        return {};
      } else {
        (void)out;
        return unexpected(errc::not_serializable);
      }
    }
    [[nodiscard]] expected<nlohmann::json> to_json() const override {
      if constexpr (has_json_form<T>) {
        return nlohmann::json(value);
      } else {
        return unexpected(errc::not_serializable);
      }
    }
    T value;
  };

  std::shared_ptr<const holder> p_;
};

}  // namespace beehive
