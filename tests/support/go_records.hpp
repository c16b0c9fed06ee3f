// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "beehive/codec.hpp"
#include "beehive/message.hpp"
#include "normalize.hpp"

// tests/data/go-records.jsonl: records written by real Go beehive processes (see
// /work/shared/interop/README.md). Test executables under tests/ define BEEHIVE_INTEROP_DIR.

namespace beehive::test {

/// One record of the captures.
struct go_record {
  std::string capture;  ///< "A", "B", "E"
  std::string writer;   ///< "go-server" or "go-client"
  std::string text;     ///< the record as written, without its trailing '\n'
};

/// What a Go record is, by its fields.
enum class go_record_kind {
  handshake_request,  ///< a client's {operation add, resource module}
  exchange,           ///< a server's handshake response: the module exchange
  reply,              ///< a SendResp (operation response)
  special,            ///< one of the nine special messages (resource "special")
  group,              ///< a SendToGroup record (no type)
  sync_request,       ///< a SendSync request
};

[[nodiscard]] inline go_record_kind kind_of(const message& m) {
  const std::string_view op(m.route.operation);
  const std::string_view res(m.route.resource);
  if (res == "module") {
    return op == "add" ? go_record_kind::handshake_request : go_record_kind::exchange;
  }
  if (res == "special") return go_record_kind::special;
  if (op == response_operation) return go_record_kind::reply;
  if (std::string_view(m.header.type).empty()) return go_record_kind::group;
  return go_record_kind::sync_request;
}

/// Every record of go-records.jsonl, in file order; the empty end-of-capture markers are left
/// out.
[[nodiscard]] inline std::vector<go_record> load_go_records() {
  std::ifstream in(std::string(BEEHIVE_INTEROP_DIR) + "/go-records.jsonl", std::ios::binary);
  std::vector<go_record> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    std::string text = j.at("text").get<std::string>();
    if (text.empty()) continue;
    if (text.back() == '\n') text.pop_back();
    out.push_back(
        {j.at("capture").get<std::string>(), j.at("writer").get<std::string>(), std::move(text)});
  }
  return out;
}

/// The records of one kind.
[[nodiscard]] inline std::vector<go_record> go_records_of(go_record_kind kind) {
  std::vector<go_record> out;
  for (auto& r : load_go_records()) {
    auto m = decode_message(r.text);
    if (m && kind_of(*m) == kind) out.push_back(std::move(r));
  }
  return out;
}

/// Special message `n` (1..9) as the Go capture program built it, before a socket context
/// addressed it: `BuildHeader("00000000-0000-4000-8000-0000000000NN", "", 1700000000000+NN)`,
/// `BuildRouter(source, "", "special", "op-NN")` and the body of the interop README.
[[nodiscard]] inline message go_special(int n, std::string_view source) {
  const std::string nn = (n < 10 ? "0" : "") + std::to_string(n);
  message m;
  m.build_header("00000000-0000-4000-8000-0000000000" + nn, "", 1700000000000 + n);
  m.build_router(source, "", "special", "op-" + std::to_string(n));
  switch (n) {
    case 1:
      m.fill_body(
          std::string("a<b>&c \"q\" \\ \u00e9 \u00fc \u65e5\u672c \u2028 \u2029 "
                      "tab\t nl\n cr\r ctl\x01 del\x7f end"));
      break;
    case 2:
      m.fill_body(bytes{0x00, 0x01, 0x02, 0xff, 0x3c, 0x3e, 0x26, 0xfe, 0x7f});
      break;
    case 3:
      m.fill_body(nlohmann::json{{"name", "nginx"},
                                 {"labels", {{"tier", "web"}, {"app", "x<y>&z"}}},
                                 {"n", 1},
                                 {"f", 1.5},
                                 {"three", 3.0},
                                 {"big", 1e21},
                                 {"small", 1e-7},
                                 {"tenth", 0.1},
                                 {"arr", {1, "a", nullptr, true}},
                                 {"unicode", "\u00fc\u65e5\u672c"},
                                 {"html", "<script>alert('&')</script>"},
                                 {"empty", nlohmann::json::object()},
                                 {"Zcap", 2}});
      break;
    case 4:
      m.header.parent_id = "11111111-1111-4111-8111-111111111111";
      m.set_resource_version("12345");
      m.route.group = "grp";
      m.fill_body("with-optional-fields");
      break;
    case 5:
      break;  // no body: Go's nil
    case 6:
      m.fill_body(std::string());
      break;
    case 7:
      m.fill_body(nlohmann::json(42));
      break;
    case 8:
      m.fill_body(nlohmann::json(0.1));
      break;
    case 9:
      m.fill_body(
          std::string("bad\xff"
                      "utf8"));
      break;
    default:
      break;
  }
  return m;
}

}  // namespace beehive::test
