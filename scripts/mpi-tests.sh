#!/usr/bin/env bash
# The MPI variant (issue 7): builds lmbatch with -DLMBATCH_MPI=ON in build-mpi
# (only lmbatch and its MPI tests) and runs them: mpirun with 1, 2 and 3 ranks
# against a single process, bit for bit; a failure and its --resume; a bad
# input reported by every rank. Needs libopenmpi-dev and openmpi-bin
# (scripts/install-deps.sh). MPI_JOBS: build jobs (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
# Containers (CI) often forbid the cross-memory attach that OpenMPI's shared-
# memory transport uses for large messages; plain copies work everywhere.
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
# The tests start every rank on this machine; OpenMPI's default launcher wants
# ssh even so, which a CI container may lack ("plm_rsh_agent ... not found").
export OMPI_MCA_plm=${OMPI_MCA_plm:-isolated}
cmake -S . -B build-mpi -DLMBATCH_MPI=ON -DLMBATCH_BUILD_BENCH=OFF >/dev/null
cmake --build build-mpi -j"${MPI_JOBS:-2}" --target lmbatch lmbatch_mpi_tests
ctest --test-dir build-mpi -L mpi --output-on-failure
