// SPDX-License-Identifier: Apache-2.0
// Keeps the support library non-empty before any support code exists.
namespace beehive::test {
void support_anchor() {}
}  // namespace beehive::test
