// SPDX-License-Identifier: Apache-2.0
// Uses the installed headers and library as a user would; exits 0 when a round trip works.
#include <beehive/beehive.hpp>
#include <chrono>
#include <memory>

int main() {
  beehive::context ctx;
  beehive::core core(ctx);
  auto added = core.register_module(
      std::make_shared<beehive::simple_module>("echo", "demo", [](beehive::context& c) {
        while (auto msg = c.receive("echo")) {
          if (msg->header.sync) (void)c.send_resp(beehive::new_resp_by_message(*msg, "pong"));
        }
      }));
  if (!added || !core.start_modules()) return 1;
  auto reply =
      ctx.send_sync("echo", beehive::new_message().fill_body("ping"), std::chrono::seconds(5));
  const bool ok = reply && reply->content.to_string().value_or("") == "pong";
  return core.shutdown().clean() && ok ? 0 : 1;
}
