// libFuzzer target: arbitrary bytes as an HDF5 problem file. The bytes are
// written to a temporary file, ProblemFile opens it with a few InputSpec
// variants and reads a couple of chunks. Any exception is an accepted outcome
// (a malformed file must be rejected with an error); a crash, a hang or a
// sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <unistd.h>

#include <hdf5.h>

#include "lmbatch/batch/chunk.hpp"
#include "lmbatch/io/problem_file.hpp"

namespace {

std::string temp_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/lmbatch_fuzz_" +
           std::to_string(::getpid()) + ".h5";
  }();
  return path;
}

void try_spec(const lmbatch::io::InputSpec& spec, int n_params) {
  try {
    lmbatch::io::ProblemFile file(spec, n_params);
    lmbatch::batch::Chunk chunk;
    const std::size_t count = file.problem_count();
    if (count == 0) return;
    // A resource budget, not a check: a 64 KB file can declare problems of millions of
    // samples (unallocated chunks read as the fill value), and reading one makes HDF5
    // allocate per chunk until the run's memory limit; what is checked here is the
    // reading logic, which 65536 samples per problem exercise as well.
    if (static_cast<long long>(file.m()) * file.predictors() > (1 << 16)) return;
    // A couple of chunks: the first one or two problems, then the last.
    file.read(0, static_cast<int>(count < 2 ? count : 2), chunk);
    file.read(count - 1, 1, chunk);
  } catch (const std::exception&) {
    // Rejected: fine.
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // no HDF5 error stacks on stderr
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = temp_path();
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return 0;
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  using lmbatch::io::InputSpec;
  InputSpec plain{.path = path};
  try_spec(plain, 0);
  try_spec(plain, 3);
  InputSpec full{.path = path, .y = "/y", .x = "/x", .sigma = "/sigma", .x0 = "/x0"};
  try_spec(full, 3);
  InputSpec xs{.path = path, .y = "/y", .x = "/x", .sigma = "/sigma"};
  try_spec(xs, 2);
  InputSpec other{.path = path, .y = "/data/y", .x = "/data/x"};
  try_spec(other, 1);
  std::remove(path.c_str());
  return 0;
}
