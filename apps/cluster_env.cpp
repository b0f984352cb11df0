#include <cstdlib>

#include "cluster_fit.hpp"

namespace lmbatch::app {
namespace {

const char* const kSizeVariables[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE",
                                      "MPI_LOCALNRANKS"};

}  // namespace

bool launched_by_mpi() {
  for (const char* name : kSizeVariables)
    if (std::getenv(name)) return true;
  return std::getenv("PMIX_RANK") || std::getenv("PMI_RANK");
}

int mpi_world_size_from_environment() {
  for (const char* name : kSizeVariables)
    if (const char* v = std::getenv(name)) {
      const long size = std::strtol(v, nullptr, 10);
      if (size > 0) return static_cast<int>(size);
    }
  return 1;
}

}  // namespace lmbatch::app
