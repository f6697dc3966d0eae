#pragma once
// The name of a file or folder a host fault makes for itself under a user's path: PREFIX + rebound's pid + the
// step's name (letters, digits, '-' and '_' kept), so that recovery can recognise it by its prefix.
#include <cctype>
#include <string>
#include <unistd.h>

namespace rebound {

inline std::string work_name(const std::string& prefix, std::string step) {
  for (char& c : step)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return prefix + std::to_string(::getpid()) + "-" + step;
}

}  // namespace rebound
