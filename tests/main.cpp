#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <unistd.h>

int main(int argc, char** argv) {
  // The rebound runs of a test record into a history of their own, never into the history of the user (or of
  // root: /var/lib/rebound) that runs the tests. CTest runs each test case in a process of its own.
  const std::string history = "/tmp/rebound-tests-history-" + std::to_string(getpid()) + ".sqlite";
  setenv("REBOUND_HISTORY", history.c_str(), 0);
  const int result = Catch::Session().run(argc, argv);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) unlink((history + suffix).c_str());
  return result;
}
