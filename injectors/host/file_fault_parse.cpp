// file.error and file.delay: their keys, parsed and checked before anything runs.
#include <cerrno>
#include <fmt/format.h>

#include "config/diagnostics.hpp"
#include "injectors/host/file_fault.hpp"

namespace rebound {

namespace {

struct ErrnoName {
  const char* name;
  int number;
};
constexpr ErrnoName kErrnos[] = {
    {"EIO", EIO},         {"ENOSPC", ENOSPC}, {"EACCES", EACCES}, {"EROFS", EROFS},       {"EPERM", EPERM},
    {"ENOENT", ENOENT},   {"EEXIST", EEXIST}, {"EDQUOT", EDQUOT}, {"EAGAIN", EAGAIN},     {"EBUSY", EBUSY},
    {"EINTR", EINTR},     {"EMFILE", EMFILE}, {"ENFILE", ENFILE}, {"ENAMETOOLONG", ENAMETOOLONG},
    {"ENOTDIR", ENOTDIR}, {"EISDIR", EISDIR}, {"EFBIG", EFBIG},   {"ETIMEDOUT", ETIMEDOUT}, {"ESTALE", ESTALE},
    {"ENOMEM", ENOMEM},   {"EINVAL", EINVAL}, {"ETXTBSY", ETXTBSY}, {"ENOTEMPTY", ENOTEMPTY}, {"EXDEV", EXDEV},
    {"EMLINK", EMLINK},   {"ELOOP", ELOOP},   {"ENODEV", ENODEV}, {"ENXIO", ENXIO},       {"EBADF", EBADF},
};

std::vector<std::string> errno_names() {
  std::vector<std::string> names;
  for (const auto& e : kErrnos) names.push_back(e.name);
  return names;
}

const ParamDoc kPath{"path", "string", "", "a folder (it must exist before the run): the file system is mounted over it"};
const ParamDoc kFiles{"files", "string", "every file", "a glob of names below path (\"*.db\"; with a '/', of paths "
                                                        "below it: \"wal/*.log\")"};
const ParamDoc kProbability{"probability", "ratio", "1", "share of the matching operations that get the fault"};

std::string ops_list() { return fmt::format("{}", fmt::join(file_op_names(), ", ")); }

ParamDoc operations_doc() {
  return {"operations", "string array", "", fmt::format("which operations of the target: {}", ops_list())};
}

}  // namespace

std::string errno_name(int number) {
  for (const auto& e : kErrnos)
    if (e.number == number) return e.name;
  return fmt::format("errno {}", number);
}

std::vector<ParamDoc> FileFault::error_params() {
  return {kPath, kFiles, operations_doc(),
          {"errno", "string", "", "what they fail with: \"EIO\", \"ENOSPC\", \"EACCES\", \"EROFS\", ..."},
          kProbability};
}

std::vector<ParamDoc> FileFault::delay_params() {
  return {kPath, kFiles, operations_doc(),
          {"delay", "duration", "", "how long each matching operation waits before it is done, e.g. \"100ms\""},
          {"jitter", "duration", "0", "spread, uniform in [-jitter, +jitter]"},
          kProbability};
}

bool FileFault::parse_common(TableReader& reader) {
  bool ok = true;
  auto path = reader.string("path", true);
  if (path && !path->starts_with('/')) {
    reader.error("path", fmt::format("'{}' is relative: write the absolute path of a folder", *path));
    ok = false;
  } else if (path) {
    path_ = *path;
    while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
  } else {
    ok = false;
  }
  if (auto files = reader.string("files")) {
    if (files->starts_with('/') || files->find("..") != std::string::npos) {
      reader.error("files", fmt::format("'{}' is not a glob of names below path: write e.g. \"*.db\" or "
                                        "\"wal/*.log\", without a leading '/' or '..'",
                                        *files));
      ok = false;
    }
    plan_.files = *files;
  }
  auto ops = reader.strings("operations", true);
  if (ops && ops->empty()) {
    reader.error("operations", fmt::format("list at least one operation, e.g. [\"write\", \"fsync\"] (known: {})", ops_list()));
    ok = false;
  }
  for (const auto& name : ops.value_or(std::vector<std::string>{})) {
    if (auto op = parse_file_op(name)) {
      plan_.ops[static_cast<size_t>(*op)] = true;
      continue;
    }
    reader.error("operations", fmt::format("unknown operation '{}'{} (known: {})", name,
                                           did_you_mean(name, file_op_names()), ops_list()));
    ok = false;
  }
  if (!ops) ok = false;
  if (auto p = reader.number("probability")) {
    if (!(*p >= 0 && *p <= 1)) {
      reader.error("probability", fmt::format("{} is not a probability: use a number from 0 to 1 (0.3 for 30%)", *p));
      ok = false;
    }
    plan_.probability = *p;
  }
  return ok;
}

std::unique_ptr<StepAction> FileFault::parse_error(TableReader& reader, const StepFactoryContext&) {
  auto step = std::make_unique<FileFault>();
  step->type_ = "file.error";
  bool ok = step->parse_common(reader);
  auto name = reader.string("errno", true);
  if (!name) return nullptr;
  for (const auto& e : kErrnos)
    if (*name == e.name) step->plan_.error = e.number;
  if (step->plan_.error == 0) {
    reader.error("errno", fmt::format("unknown errno '{}'{} (known: {})", *name, did_you_mean(*name, errno_names()),
                                      fmt::join(errno_names(), ", ")));
    return nullptr;
  }
  return ok ? std::move(step) : nullptr;
}

std::unique_ptr<StepAction> FileFault::parse_delay(TableReader& reader, const StepFactoryContext&) {
  auto step = std::make_unique<FileFault>();
  step->type_ = "file.delay";
  bool ok = step->parse_common(reader);
  auto delay = reader.duration("delay", true);
  auto jitter = reader.duration("jitter");
  if (!delay) return nullptr;
  auto micros = [](Millis d) { return std::chrono::microseconds(static_cast<int64_t>(d.count() * 1000)); };
  if (delay->count() <= 0) {
    reader.error("delay", "a delay of 0 does nothing: write e.g. delay = \"100ms\"");
    return nullptr;
  }
  step->plan_.delay = micros(*delay);
  if (jitter) step->plan_.jitter = micros(*jitter);
  if (step->plan_.jitter > step->plan_.delay) {
    reader.error("jitter", "jitter cannot exceed delay (an operation cannot wait less than nothing)");
    return nullptr;
  }
  return ok ? std::move(step) : nullptr;
}

}  // namespace rebound
