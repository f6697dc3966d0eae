#pragma once
// disk.fill: fills the file system that holds `path` until only `free` bytes are left (or it is `used` percent
// full), with one file under `path` that revert removes. The record names the file before it is written, so the
// guardian or `rebound recover` removes it after a rebound that died.
#include <atomic>
#include <optional>
#include <thread>

#include "injectors/registry.hpp"
#include "system/fd.hpp"

namespace rebound {

// A file system's space as df counts it.
struct Space {
  uint64_t available = 0;  // what an unprivileged writer may still use (df's "Avail")
  uint64_t usable = 0;     // used + available (df's "Used" + "Avail")
};

class DiskFill : public StepAction {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
  static Result<std::string> recover(const nlohmann::json& undo);
  Result<void> preflight() override;
  Result<void> apply(StepContext& context) override;
  Result<void> revert(StepContext& context) override;
  nlohmann::json describe() const override;
  ~DiskFill() override { stop_holding(); }

 private:
  // The free space the step declares, on this file system.
  uint64_t target_free(const Space& space) const;
  // While the fault lasts: space that comes free again (another writer's file that was there when rebound
  // measured, or one deleted since) is taken too, so the file system stays at the declared free space.
  void hold_full();
  void stop_holding();
  std::string path_;
  std::optional<uint64_t> free_;
  std::optional<double> used_percent_;
  bool allow_root_fs_ = false;
  std::string file_;      // the fill file, once created
  uint64_t free_before_ = 0;
  uint64_t free_target_ = 0;
  Fd fd_;                 // the fill file, open while the fault lasts (fallocate only)
  uint64_t size_ = 0;     // its allocated size (the holder thread's, once started)
  std::thread holder_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> topped_up_{0};
};

}  // namespace rebound
