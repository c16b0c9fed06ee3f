// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: a NATS user nkey (an ed25519 key pair in NATS's encoding), made with the
// `openssl` command, for servers that authenticate users by nkey. No `nk` tool is needed:
// openssl makes the key pair, and this file encodes it as nkeys does (a prefix byte, the 32 key
// bytes, a CRC-16/XMODEM little-endian, base32 without padding).

#include <string>

namespace beehive::test {

/// A user nkey: `public_key` (U...) goes into the server's config, `seed_file` (a file holding
/// the seed, SU...) is what a client signs with (natsOptions_SetNKeyFromSeed).
struct nats_nkey {
  std::string public_key;
  std::string seed;
  std::string seed_file;
};

/// Makes a user nkey with openssl in `dir` (files `<name>.der`, `<name>.seed`). Throws
/// std::runtime_error if openssl fails.
nats_nkey make_user_nkey(const std::string& dir, const std::string& name);

/// nkeys' encoding of `key` (32 bytes) as a public user key ("U...").
std::string encode_user_public_key(const std::string& key);
/// nkeys' encoding of `seed` (32 bytes) as a user seed ("SU...").
std::string encode_user_seed(const std::string& seed);

}  // namespace beehive::test
