#pragma once
// Kernel objects that several rebounds (or several steps of one) may use at once, such as the clsact
// qdisc of an interface: counted through the state directory, so that the last user removes them, and
// only when rebound created them.
//   <state>/shared/lock                           flock(2)ed while a rebound reads or changes the records
//   <state>/shared/<object>/created.json          rebound created the object (written before creating it)
//   <state>/shared/<object>/user-<pid>-<n>.json   one per step using it (written before it uses it)
// A user record whose rebound has died no longer counts as a user: `rebound recover` removes it with the
// rest of that rebound's fault.
#include <nlohmann/json.hpp>
#include <string>

#include "config/result.hpp"
#include "injectors/network/bpf_handles.hpp"

namespace rebound {

// The exclusive lock on a shared folder, held while the object is alive.
class SharedLock {
 public:
  [[nodiscard]] static Result<SharedLock> take(const std::string& shared_dir);

 private:
  SharedLock() = default;
  Fd fd_;
};

class SharedObject {
 public:
  SharedObject(std::string shared_dir, const std::string& key) : dir_(shared_dir + "/" + key) {}
  const std::string& dir() const { return dir_; }
  // Adds a user record for this rebound; returns its path. Hold the lock.
  [[nodiscard]] Result<std::string> add_user(const nlohmann::json& about);
  [[nodiscard]] Result<void> remove_user(const std::string& path);
  // User records whose rebound is still running.
  size_t live_users() const;
  // Removes the user records of rebounds that have died. Hold the lock.
  void drop_dead_users();
  bool created() const;
  [[nodiscard]] Result<void> mark_created(const nlohmann::json& about);
  [[nodiscard]] Result<void> clear_created();

 private:
  std::string dir_;
};

}  // namespace rebound
