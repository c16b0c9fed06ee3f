// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: a short temporary directory, removed with its content.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace beehive::test {

/// A short temporary directory (sun_path is 108 bytes), removed with its content.
class temp_dir {
 public:
  temp_dir() {
    char tmpl[] = "/tmp/bhsXXXXXX";
    const char* p = ::mkdtemp(tmpl);
    path_ = p != nullptr ? p : "/tmp";
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace beehive::test
