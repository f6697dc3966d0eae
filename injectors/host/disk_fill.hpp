#pragma once
// disk.fill: fills the file system that holds `path` until only `free` bytes are left (or it is `used` percent
// full), with one file under `path` that revert removes. The record names the file before it is written, so the
// guardian or `rebound recover` removes it after a rebound that died.
#include <optional>

#include "injectors/registry.hpp"

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

 private:
  // Bytes to write so that the file system reaches the declared free space (0: it is there already).
  uint64_t bytes_to_fill(const Space& space) const;
  std::string path_;
  std::optional<uint64_t> free_;
  std::optional<double> used_percent_;
  bool allow_root_fs_ = false;
  std::string file_;      // the fill file, once created
  uint64_t free_before_ = 0;
};

}  // namespace rebound
