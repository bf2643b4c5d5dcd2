// strCat: message building without iostream noise at call sites (the runtime links no fmt).
#pragma once

#include <sstream>
#include <string>

namespace edgert {

template <class... Args>
std::string strCat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace edgert
