// SPDX-License-Identifier: Apache-2.0
#include "beehive/content.hpp"

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "codec/json_text.hpp"

namespace beehive {

content::holder::~holder() = default;

void content::write_go_json(const nlohmann::json& j, std::string& out) {
  detail::write_go_json(j, out);
}

class content::string_holder final : public holder {
 public:
  explicit string_holder(std::string s) : value_(std::move(s)) {}
  [[nodiscard]] content_kind kind() const noexcept override { return content_kind::string; }
  [[nodiscard]] expected<void> write_json(std::string& out) const override {
    detail::append_go_string(value_, out);
    return {};
  }
  [[nodiscard]] expected<nlohmann::json> to_json() const override { return nlohmann::json(value_); }
  [[nodiscard]] const std::string& value() const noexcept { return value_; }

 private:
  std::string value_;
};

class content::bytes_holder final : public holder {
 public:
  explicit bytes_holder(bytes b) : value_(std::move(b)) {}
  [[nodiscard]] content_kind kind() const noexcept override { return content_kind::binary; }
  [[nodiscard]] expected<void> write_json(std::string& out) const override {
    out.push_back('"');
    detail::append_base64(value_.data(), value_.size(), out);
    out.push_back('"');
    return {};
  }
  [[nodiscard]] expected<nlohmann::json> to_json() const override {
    std::string s;
    detail::append_base64(value_.data(), value_.size(), s);
    return nlohmann::json(std::move(s));
  }
  [[nodiscard]] const bytes& value() const noexcept { return value_; }

 private:
  bytes value_;
};

class content::json_holder final : public holder {
 public:
  explicit json_holder(nlohmann::json j) : value_(std::move(j)) {}
  [[nodiscard]] content_kind kind() const noexcept override { return content_kind::json; }
  [[nodiscard]] expected<void> write_json(std::string& out) const override {
    detail::write_go_json(value_, out);
    return {};
  }
  [[nodiscard]] expected<nlohmann::json> to_json() const override { return value_; }
  [[nodiscard]] const nlohmann::json& value() const noexcept { return value_; }

 private:
  nlohmann::json value_;
};

// Why verbatim text: a message the socket server only forwards is written out again exactly
// as it came in, so its content is never parsed (DESIGN §2); parsing happens on demand.
//
// One allocation per content (a received record's, decoded on the hot path): the holder and
// its text share one block (`make`), with the control block of the shared_ptr that owns them.
class content::raw_json_holder final : public holder {
 public:
  [[nodiscard]] content_kind kind() const noexcept override { return content_kind::raw_json; }
  [[nodiscard]] expected<void> write_json(std::string& out) const override {
    out.append(text());
    return {};
  }
  [[nodiscard]] expected<nlohmann::json> to_json() const override {
    // The text was validated (and sanitized) on entry, so this parse does not fail.
    const std::string_view t = text();
    auto j = nlohmann::json::parse(t.begin(), t.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return unexpected(errc::protocol_error);
    return j;
  }
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(this + 1), size_};
  }

  static std::shared_ptr<const holder> make(std::string_view text) {
    using word = std::max_align_t;
    const std::size_t words =
        (sizeof(raw_json_holder) + text.size() + sizeof(word) - 1) / sizeof(word);
    // Bytes, not initialized: the holder is built at the front and the text copied behind it.
    std::shared_ptr<word[]> block = std::make_shared_for_overwrite<word[]>(words);
    auto* h = ::new (static_cast<void*>(block.get())) raw_json_holder(text.size());
    if (!text.empty()) std::memcpy(reinterpret_cast<char*>(h + 1), text.data(), text.size());
    // Shares the block's ownership. The holder's destructor is never run: it has nothing to
    // do (trivial members, and holder's own is empty), and the block's storage goes with the
    // last owner.
    return std::shared_ptr<const holder>(std::move(block), h);
  }

 private:
  explicit raw_json_holder(std::size_t size) : size_(size) {}
  std::size_t size_;
};

content::content(std::string s) : p_(std::make_shared<string_holder>(std::move(s))) {}
content::content(const char* s) : content(std::string(s)) {}
content::content(std::string_view s) : content(std::string(s)) {}
content::content(bytes b) : p_(std::make_shared<bytes_holder>(std::move(b))) {}
content::content(nlohmann::json j) : p_(std::make_shared<json_holder>(std::move(j))) {}

expected<content> content::from_json_text(std::string text) {
  std::size_t begin = 0;
  while (begin < text.size() && detail::is_json_space(text[begin])) ++begin;
  std::size_t pos = begin;
  const auto r = detail::scan_json_value(text, pos);
  if (!r.ok) return unexpected(errc::protocol_error);
  const std::size_t end = pos;
  while (pos < text.size() && detail::is_json_space(text[pos])) ++pos;
  if (pos != text.size()) return unexpected(errc::protocol_error);
  std::string_view value(text.data() + begin, end - begin);
  if (r.needs_sanitize) return from_trusted_json_text(detail::sanitize_json_text(value));
  if (begin != 0 || end != text.size()) text = std::string(value);
  return from_trusted_json_text(std::move(text));
}

content content::from_trusted_json_text(std::string_view text) {
  content c;
  c.p_ = raw_json_holder::make(text);
  return c;
}

const std::string* content::if_string() const noexcept {
  if (kind() != content_kind::string) return nullptr;
  return &static_cast<const string_holder*>(p_.get())->value();
}

const bytes* content::if_bytes() const noexcept {
  if (kind() != content_kind::binary) return nullptr;
  return &static_cast<const bytes_holder*>(p_.get())->value();
}

const nlohmann::json* content::if_json() const noexcept {
  if (kind() != content_kind::json) return nullptr;
  return &static_cast<const json_holder*>(p_.get())->value();
}

std::string_view content::raw_json() const noexcept {
  if (kind() != content_kind::raw_json) return {};
  return static_cast<const raw_json_holder*>(p_.get())->text();
}

expected<nlohmann::json> content::to_json() const {
  if (!p_) return nlohmann::json(nullptr);
  return p_->to_json();
}

expected<std::string> content::to_string() const {
  switch (kind()) {
    case content_kind::string:
      return *if_string();
    case content_kind::json:
      if (if_json()->is_string()) return if_json()->get<std::string>();
      return unexpected(errc::type_mismatch);
    case content_kind::raw_json: {
      const std::string_view t = raw_json();
      if (t.empty() || t.front() != '"') return unexpected(errc::type_mismatch);
      std::string s;
      std::size_t pos = 0;
      if (!detail::decode_json_string(t, pos, s)) return unexpected(errc::type_mismatch);
      return s;
    }
    default:
      return unexpected(errc::type_mismatch);
  }
}

expected<bytes> content::to_bytes() const {
  if (const bytes* b = if_bytes()) return *b;
  std::string encoded;
  if (const nlohmann::json* j = if_json(); j && j->is_string()) {
    encoded = j->get<std::string>();
  } else if (kind() == content_kind::raw_json && raw_json().front() == '"') {
    std::size_t pos = 0;
    if (!detail::decode_json_string(raw_json(), pos, encoded)) {
      return unexpected(errc::type_mismatch);
    }
  } else {
    return unexpected(errc::type_mismatch);
  }
  std::string decoded;
  if (!detail::decode_base64(encoded, decoded)) return unexpected(errc::type_mismatch);
  return bytes(decoded.begin(), decoded.end());
}

expected<void> content::write_json(std::string& out) const {
  if (!p_) {
    out.append("null");
    return {};
  }
  const std::size_t size_before = out.size();
  auto r = p_->write_json(out);
  if (!r) out.resize(size_before);
  return r;
}

expected<std::string> content::json_text() const {
  std::string out;
  auto r = write_json(out);
  if (!r) return unexpected(r.error());
  return out;
}

}  // namespace beehive
