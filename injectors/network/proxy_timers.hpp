#pragma once
// The proxy's deadlines: at most one per connection (the earliest thing it waits for), earliest first.
// Re-arming replaces a connection's deadline instead of adding one, so the structure never holds more
// entries than there are connections, however often the connection is serviced.
#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

namespace rebound {

class ProxyTimers {
 public:
  static constexpr int64_t kNever = INT64_MAX;

  // The connection's deadline becomes `at` (kNever: none).
  void arm(uint64_t id, int64_t at) {
    auto it = armed_.find(id);
    if (it != armed_.end()) {
      if (it->second == at) return;
      order_.erase({it->second, id});
      if (at == kNever) {
        armed_.erase(it);
        return;
      }
      it->second = at;
    } else {
      if (at == kNever) return;
      armed_.emplace(id, at);
    }
    order_.emplace(at, id);
  }
  void cancel(uint64_t id) { arm(id, kNever); }
  // The connection whose deadline is due first, if it is due by `now`; it is disarmed.
  std::optional<uint64_t> pop_due(int64_t now) {
    if (order_.empty() || order_.begin()->first > now) return std::nullopt;
    uint64_t id = order_.begin()->second;
    order_.erase(order_.begin());
    armed_.erase(id);
    return id;
  }
  int64_t next() const { return order_.empty() ? kNever : order_.begin()->first; }
  size_t size() const { return order_.size(); }

 private:
  std::set<std::pair<int64_t, uint64_t>> order_;
  std::unordered_map<uint64_t, int64_t> armed_;
};

}  // namespace rebound
