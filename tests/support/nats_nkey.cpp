// SPDX-License-Identifier: Apache-2.0
#include "support/nats_nkey.hpp"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "support/child_process.hpp"

namespace beehive::test {
namespace {

constexpr std::uint8_t prefix_seed = 18 << 3;  // 'S'
constexpr std::uint8_t prefix_user = 20 << 3;  // 'U'

std::uint16_t crc16_xmodem(const std::string& data) {
  std::uint16_t crc = 0;
  for (char ch : data) {
    const auto c = static_cast<unsigned char>(ch);
    crc = static_cast<std::uint16_t>(crc ^ (c << 8));
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::string base32(const std::string& data) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char ch : data) {
    buffer = (buffer << 8) | static_cast<unsigned char>(ch);
    bits += 8;
    while (bits >= 5) {
      out.push_back(alphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

std::string with_crc(std::string raw) {
  const std::uint16_t crc = crc16_xmodem(raw);
  raw.push_back(static_cast<char>(crc & 0xff));
  raw.push_back(static_cast<char>(crc >> 8));
  return base32(raw);
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

std::string encode_user_public_key(const std::string& key) {
  std::string raw(1, static_cast<char>(prefix_user));
  raw += key;
  return with_crc(raw);
}

std::string encode_user_seed(const std::string& seed) {
  std::string raw;
  raw.push_back(static_cast<char>(prefix_seed | (prefix_user >> 5)));
  raw.push_back(static_cast<char>((prefix_user & 31) << 3));
  raw += seed;
  return with_crc(raw);
}

nats_nkey make_user_nkey(const std::string& dir, const std::string& name) {
  const std::string openssl = find_program("openssl");
  if (openssl.empty()) throw std::runtime_error("make_user_nkey: openssl not found");
  const std::string key = dir + "/" + name + ".der";
  const std::string pub = dir + "/" + name + ".pub.der";
  const std::string log = dir + "/openssl.log";
  if (run_program({openssl, "genpkey", "-algorithm", "ed25519", "-outform", "DER", "-out", key},
                  log) != 0 ||
      run_program({openssl, "pkey", "-in", key, "-inform", "DER", "-pubout", "-outform", "DER",
                   "-out", pub},
                  log) != 0) {
    throw std::runtime_error("make_user_nkey: openssl failed, see " + log);
  }
  // PKCS#8 and SubjectPublicKeyInfo DER of an ed25519 key end with its 32 raw bytes.
  const std::string key_der = read_all(key);
  const std::string pub_der = read_all(pub);
  if (key_der.size() < 32 || pub_der.size() < 32) {
    throw std::runtime_error("make_user_nkey: unexpected key files");
  }
  nats_nkey k;
  k.public_key = encode_user_public_key(pub_der.substr(pub_der.size() - 32));
  k.seed = encode_user_seed(key_der.substr(key_der.size() - 32));
  k.seed_file = dir + "/" + name + ".seed";
  std::ofstream(k.seed_file) << k.seed << "\n";
  return k;
}

}  // namespace beehive::test
