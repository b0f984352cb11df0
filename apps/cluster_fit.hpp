// Cluster mode: `mpirun -n R lmbatch fit ...` (docs/cluster.md). Compiled
// with -DLMBATCH_MPI=ON; without it, a run started by mpirun with several
// ranks is refused rather than fitting everything R times.
#pragma once

#include "fit_job.hpp"

namespace lmbatch::app {

// Whether this process was started by mpirun/srun (the launcher's environment
// variables: OpenMPI, PMI, PMIx).
bool launched_by_mpi();
// The world size the launcher announced (1 when unknown).
int mpi_world_size_from_environment();

#ifdef LMBATCH_MPI
// The fit across the ranks of MPI_COMM_WORLD: rank 0 hands out chunks of
// problems from a shared counter (dynamic load balancing), every rank (rank
// 0 included) solves the chunks it takes with its oneTBB pipeline and sends
// the results to rank 0, which writes them in problem order through the
// same journal and result file as a single-process run: one output,
// bit-identical to it, resumable with --resume. Returns the exit status, the
// same on every rank.
int run_fit_cluster(const FitArgs& args);
#endif

}  // namespace lmbatch::app
