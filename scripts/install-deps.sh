#!/usr/bin/env bash
# Installs lmbatch's build and test dependencies from Debian 12 packages (run as root).
set -euo pipefail
packages=(
  cmake g++ make          # toolchain
  libtbb-dev              # engine: the batch pipeline (oneTBB)
  libhwy-dev              # engine: SIMD lanes with runtime dispatch (Google Highway; issue #19)
  libmpfr-dev             # bench/exp_accuracy: exp against a correctly rounded reference
  libhdf5-dev             # io: problems in, results out
  zlib1g-dev libdeflate-dev  # io: inflating input chunks directly (io/direct_chunks.cpp)
  libcli11-dev            # apps: command line
  libspdlog-dev           # apps: progress and summary logging
  libcairo2-dev pkg-config fonts-dejavu-core  # apps: lmbatch report (PNG maps, text)
  nlohmann-json3-dev      # apps: JSON summary; tests: reference data
  libeigen3-dev           # tests: conditioning of R
  catch2                  # unit and conformance tests (Catch2 v2)
  pybind11-dev python3-dev python3-numpy  # python/: the lmbatch module
  python3-pytest python3-scipy python3-h5py  # python tests (scipy: the reference)
  libcminpack-dev libceres-dev  # bench/: the peers (cminpack, Ceres tiny_solver; Eigen above)
  libopenmpi-dev openmpi-bin  # -DLMBATCH_MPI=ON: the cluster mode (scripts/mpi-tests.sh)
  clang-14 libclang-rt-14-dev   # scripts/fuzz.sh: libFuzzer targets (clang, ASan+UBSan runtimes)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
