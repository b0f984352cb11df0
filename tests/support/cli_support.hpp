// Running the lmbatch executable (or mpirun) from tests, and comparing the
// result files they write, bit for bit. Header-only: the tests that use it
// link lmbatch::io (HDF5) and Catch2.
#pragma once

#include <fcntl.h>
#include <hdf5.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/h5_test_files.hpp"
#include "lmbatch/io/hdf5.hpp"

extern char** environ;

namespace lmbatch::test {

// Temporary directories: the io tests' TempDir (tests/io/h5_test_files.hpp).
using lmbatch::io::test::TempDir;

// Starts program with args, stdout and stderr appended to log; returns its pid.
inline pid_t start_program(const std::string& program, const std::vector<std::string>& args,
                           const std::string& log) {
  std::vector<std::string> all{program};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(spawned == 0);
  return pid;
}

// The exit status, or 128 + the signal that ended it (as a shell reports).
inline int wait_status(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline int run_program(const std::string& program, const std::vector<std::string>& args,
                       const std::string& log) {
  return wait_status(start_program(program, args, log));
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CommandResult {
  int status;          // the exit status, -1 if the shell did not exit normally
  std::string output;  // stdout and stderr
};

// Runs a shell command line `program args` (args already quoted for the
// shell), its output in dir's log.txt. Dir: any temporary directory with file().
template <class Dir>
CommandResult run_shell(const std::string& program, const std::string& args, const Dir& dir) {
  const std::string log = dir.file("log.txt");
  const std::string cmd = program + " " + args + " > " + log + " 2>&1";
  const int raw = std::system(cmd.c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_text(log)};
}

// The dataset's raw bytes in its file type (exact comparison, NaN included).
inline std::vector<unsigned char> raw_dataset(const std::string& file, const char* name) {
  namespace h5 = lmbatch::io::hdf5;
  h5::File f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  REQUIRE(f.valid());
  h5::Dataset d(H5Dopen2(f.get(), name, H5P_DEFAULT));
  REQUIRE(d.valid());
  h5::Datatype t(H5Dget_type(d.get()));
  h5::Dataspace s(H5Dget_space(d.get()));
  const auto n = static_cast<std::size_t>(H5Sget_simple_extent_npoints(s.get()));
  std::vector<unsigned char> out(n * H5Tget_size(t.get()));
  REQUIRE(H5Dread(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0);
  return out;
}

// Every result dataset of a and b holds the same bits (the full-output ones
// too when full_output).
inline void check_identical_results(const std::string& a, const std::string& b,
                                    bool full_output = false) {
  std::vector<const char*> names = {"/x",    "/cov_x", "/stderr",  "/cost",   "/nfev",
                                    "/njev", "/ier",   "/m_valid", "/pegged", "/start"};
  if (full_output) names.insert(names.end(), {"/fvec", "/fjac", "/ipvt", "/qtf"});
  for (const char* name : names) {
    INFO(name << " of " << a << " and " << b);
    CHECK(raw_dataset(a, name) == raw_dataset(b, name));
  }
}

}  // namespace lmbatch::test
