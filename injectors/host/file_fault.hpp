#pragma once
// file.error and file.delay: for the processes of a target (and their descendants), chosen file operations on
// files under `path` fail with an errno, or wait, with a probability. Done by a FUSE passthrough file system
// (injectors/host/fuse_fs.hpp) mounted over `path` for the duration; every other process passes through
// untouched. The record names the mount before it is made, so the guardian or `rebound recover` unmounts one that
// fusermount3's auto_unmount left behind. A target in another mount namespace (a container) gets the mount in its
// namespace, where `path` is as it sees it (injectors/host/namespace_mount.hpp).
#include <memory>

#include "injectors/host/fuse_fs.hpp"
#include "injectors/registry.hpp"

namespace rebound {

// "EIO" for EIO (the names errno accepts), "errno N" for others.
std::string errno_name(int number);

class FileFault : public StepAction {
 public:
  static std::vector<ParamDoc> error_params();
  static std::vector<ParamDoc> delay_params();
  static std::unique_ptr<StepAction> parse_error(TableReader& reader, const StepFactoryContext& context);
  static std::unique_ptr<StepAction> parse_delay(TableReader& reader, const StepFactoryContext& context);
  static Result<std::string> recover(const nlohmann::json& undo);
  // /dev/fuse and fusermount3 are there, and rebound may mount for other users (root).
  static Result<void> available();
  Result<void> preflight() override;
  // For dry runs: the path checked where the target sees it, and where the mount would be made.
  Result<std::string> plan(const std::vector<ProcessInfo>& processes) const override;
  Result<void> apply(StepContext& context) override;
  void switch_off(StepContext&) override;
  Result<void> revert(StepContext& context) override;
  nlohmann::json describe() const override;

 private:
  // The keys both types share (path, files, operations, probability); false after an error.
  bool parse_common(TableReader& reader);
  void note_counts(StepContext& context) const;
  // The mount namespace of the target's processes and one process in it: an error when they are in several.
  struct Namespace {
    std::string id;  // "mnt:[4026532281]"
    pid_t pid = 0;
    bool foreign = false;  // not rebound's own
  };
  Result<Namespace> namespace_of(const std::vector<ProcessInfo>& processes) const;
  // The folder checks (exists, is a folder, not / and not already faulted), as `ns` sees it.
  Result<void> check_path(const Namespace& ns) const;
  std::string type_;
  std::string path_;
  FileFaultPlan plan_;
  std::unique_ptr<FuseFs> fs_;
  size_t open_before_ = 0;
  std::vector<pid_t> cwd_under_;  // target processes whose working folder is under path
};

}  // namespace rebound
