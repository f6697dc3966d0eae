// io.stress as a user sees it: the stressors write and read files under the folder (the detail counts the
// bytes), their work folder is gone after the fault, a rebound killed mid-fault leaves neither stressors nor
// files once `rebound recover` has run, and a size the file system cannot take is refused before anything runs.
#include <catch2/catch.hpp>
#include <filesystem>

#include "helpers.hpp"
#include "stress_helpers.hpp"

namespace fs = std::filesystem;

namespace {

size_t work_dirs(const std::string& path) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(path)) n += e.path().filename().string().starts_with(".rebound-io-");
  return n;
}

std::string io_step(const std::string& path, const std::string& more = "") {
  return "type = \"io.stress\"\npath = \"" + path + "\"\nsize = \"8MiB\"\n" + more;
}

}  // namespace

TEST_CASE("io.stress: the stressors write and read under the folder and their work folder is gone after",
          "[integration][root][io]") {
  if (!test::privileged()) return;
  test::TempDir dir;
  test::RunningFault fault("", io_step(dir.path(), "workers = 2\n"));
  CHECK(test::stressors() >= 3);
  CHECK(work_dirs(dir.path()) == 1);
  fault.stop();
  CHECK(test::wait_for([] { return test::stressors() == 0; }, 3000));
  CHECK(work_dirs(dir.path()) == 0);
  auto step = fault.journal()["steps"][0];
  INFO(step.dump(2));
  CHECK(step["detail"]["written_bytes"].get<double>() >= 8 * 1024 * 1024);
  CHECK(step["detail"]["read_bytes"].get<double>() > 0);
  CHECK(step["effect"].get<std::string>().find("wrote") != std::string::npos);
}

TEST_CASE("io.stress: when rebound its keeper and its guardian all die rebound recover ends the stressors and "
          "removes their files",
          "[integration][root][io]") {
  if (!test::privileged()) return;
  test::TempDir dir;
  test::check_recover_ends_stressors("", io_step(dir.path()), 2);
  CHECK(work_dirs(dir.path()) == 0);
}

TEST_CASE("io.stress: a size the file system cannot take is refused by the dry run", "[integration][io]") {
  test::TempDir dir;
  const std::string file =
      dir.write("x.toml", "name = \"x\"\n[[probes]]\nname = \"p\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                          "[steady_state]\nwindow = \"1s\"\n[[method]]\nname = \"io\"\nduration = \"1s\"\n"
                          "type = \"io.stress\"\npath = \"" + dir.path() + "\"\nsize = \"1TiB\"\nworkers = 64\n");
  auto dry = test::run_rebound({"run", file, "--dry-run"});
  INFO(dry.out << dry.err);
  CHECK(dry.exit_code != 0);
  CHECK((dry.out + dry.err).find("more than half of the") != std::string::npos);
  CHECK(work_dirs(dir.path()) == 0);
}

TEST_CASE("io.stress: validation names the key and the fix", "[validation][io]") {
  auto exp = [](const std::string& step) {
    return "name = \"x\"\n[[probes]]\nname = \"p\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n[steady_state]\n"
           "window = \"1s\"\n[[method]]\nname = \"io\"\ntype = \"io.stress\"\nduration = \"1s\"\n" + step;
  };
  CHECK(test::only_error(exp("path = \"tmp\"\n")).find("is relative: write the absolute path of a folder") !=
        std::string::npos);
  CHECK(test::only_error(exp("path = \"/tmp\"\nworkers = 0\n")).find("0 workers: write 1 to 64") != std::string::npos);
  CHECK(test::only_error(exp("path = \"/tmp\"\nsize = \"4KiB\"\n"))
            .find("per worker is too little to load a disk: write at least \"1MiB\"") != std::string::npos);
}
