#pragma once
// `rebound schedule --print-systemd`: a service and a timer for users who prefer systemd's timers.
#include <string>

namespace rebound {

int print_systemd(const std::string& suite_file);

}  // namespace rebound
