// SPDX-License-Identifier: Apache-2.0
#include "nats/nats_hosted_endpoint.hpp"

#include "nats/nats_type.hpp"

namespace beehive::detail {

nats_hosted_endpoint::nats_hosted_endpoint(const module_info& info, std::weak_ptr<nats_type> type,
                                           bool is_replica)
    : inbox_endpoint(info), replica(is_replica), type_(std::move(type)) {
  waits_without_bound =
      info.inbox.overflow == overflow_policy::block && info.inbox.block_timeout.count() == 0;
}

bool nats_hosted_endpoint::reopen(const module_info& info) {
  auto type = type_.lock();
  if (!type) return false;
  // A name another process took meanwhile cannot be reopened here: the registry then makes a
  // new endpoint, whose make_endpoint says already_exists.
  if (!type->claim(info.name, replica)) return false;
  (void)inbox_endpoint::reopen(info);
  waits_without_bound =
      info.inbox.overflow == overflow_policy::block && info.inbox.block_timeout.count() == 0;
  if (!type->host(*this)) {
    std::vector<message> none;
    inbox_endpoint::close(none);
    return false;
  }
  return true;
}

// Why the type lets go first: no record arrives for a life that is ending.
// The subscription stops before the inbox closes, and its handler (which may wait for room in
// this inbox) is waited for after: closing the inbox wakes it.
void nats_hosted_endpoint::close(std::vector<message>& dropped) {
  std::shared_ptr<nats_subscription> s;
  if (auto type = type_.lock()) s = type->unhost(*this);
  inbox_endpoint::close(dropped);
  if (s) s->wait();
}

void nats_hosted_endpoint::discard(std::vector<message>& dropped) {
  std::shared_ptr<nats_subscription> s;
  if (auto type = type_.lock()) s = type->unhost(*this);
  inbox_endpoint::discard(dropped);
  if (s) s->wait();
}

}  // namespace beehive::detail
