// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_hosted_endpoint.hpp"

#include "nats/nats_type.hpp"

namespace beehive::detail {

nats_hosted_endpoint::nats_hosted_endpoint(const module_info& info, std::weak_ptr<nats_type> type,
                                           bool is_replica)
    : inbox_endpoint(info), replica(is_replica), type_(std::move(type)) {}

bool nats_hosted_endpoint::reopen(const module_info& info) {
  auto type = type_.lock();
  if (!type || stranded) return false;
  // A name another process took meanwhile cannot be reopened here: the registry then makes a
  // new endpoint, whose make_endpoint says already_exists.
  if (!type->claim(info.name, replica)) return false;
  (void)inbox_endpoint::reopen(info);
  leaving = false;
  if (!type->host(*this)) {
    std::vector<message> none;
    inbox_endpoint::close(none);
    return false;
  }
  return true;
}

thread_local const nats_hosted_endpoint* nats_hosted_endpoint::taking_for = nullptr;

bool nats_hosted_endpoint::wait_group_takers(std::chrono::milliseconds bound) {
  std::unique_lock lk(group_mu);
  if (group_takers > 0 && taking_for == this) return false;
  return group_cv.wait_for(lk, bound, [&] { return group_takers == 0; });
}

// Why the type lets go first: no record arrives for a life that is ending.
// The subscription stops first; a relay waiting for room gives up (`leaving`); the group
// handlers that were taking records for it end; once its own handler has ended, the records it
// still held go into the inbox if they fit (counted if not); then the inbox closes, with everything
// the module was given.
void nats_hosted_endpoint::leave() {
  auto type = type_.lock();
  if (!type) return;
  auto s = type->unhost(*this);
  leaving = true;
  wake_relay();
  // A group handler that found the module before it left may still relay into it.
  if (!wait_group_takers(std::chrono::milliseconds(2000))) stranded = true;
  if (!s) return;
  if (s->wait()) {
    type->release_held(*this);
  } else {
    // Its handler may still run (past the bound, or this is it): it still owns the batch.
    stranded = true;
  }
}

void nats_hosted_endpoint::close(std::vector<message>& dropped) {
  leave();
  inbox_endpoint::close(dropped);
}

void nats_hosted_endpoint::discard(std::vector<message>& dropped) {
  leave();
  inbox_endpoint::discard(dropped);
}

}  // namespace beehive::detail
