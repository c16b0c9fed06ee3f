// SPDX-License-Identifier: Apache-2.0
#include "admin/dashboard_page.hpp"

namespace beehive::detail {

std::string_view dashboard_html() noexcept {
  return R"html(<!doctype html><title>beehive</title><p>dashboard</p>)html";
}

}  // namespace beehive::detail
