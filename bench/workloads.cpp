// The four workloads: truth sampling, noisy data, starting points 10-20 % off
// the truth, and the HDF5 data file that `lmbatch fit` and scipy_loop.py read.
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "bench.hpp"

namespace lmbatch::bench {
namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Plausible truths on x = 0..m-1 (as `lmbatch generate` samples them): peaks
// spread over the range (the r-th of R in the r-th R-th of it), a fast and a
// slow decay, small baselines.
void sample_truth(const Workload& w, std::mt19937_64& rng, double* p) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double span = static_cast<double>(w.m - 1);
  switch (w.id) {
    case 1: {  // gaussian+constant
      p[0] = 1.0 + u(rng);
      p[1] = span * (0.3 + 0.4 * u(rng));
      p[2] = span * (0.04 + 0.03 * u(rng));
      p[3] = 0.05 + 0.15 * u(rng);
      return;
    }
    case 2: {  // exponential*2+constant: tau_fast in 5-15 %, tau_slow in 30-60 % of the span
      p[0] = 1.0 + u(rng);
      p[1] = span * (0.05 + 0.1 * u(rng));
      p[2] = 1.0 + u(rng);
      p[3] = span * (0.3 + 0.3 * u(rng));
      p[4] = 0.05 + 0.15 * u(rng);
      return;
    }
    case 3: {  // gaussian*3+linear
      const double segment = span / 3.0;
      for (int r = 0; r < 3; ++r) {
        p[3 * r + 0] = 1.0 + u(rng);
        p[3 * r + 1] = segment * (r + 0.3 + 0.4 * u(rng));
        p[3 * r + 2] = segment * (0.04 + 0.03 * u(rng));
      }
      p[9] = 0.05 + 0.15 * u(rng);
      p[10] = (0.2 * u(rng) - 0.1) / span;
      return;
    }
    case 4: {  // gauss2d on 5x5: a spot near the centre, sigma about one pixel
      const double c = 0.5 * (w.side - 1);
      p[0] = 100.0 * (0.8 + 0.4 * u(rng));
      p[1] = c + 0.6 * (u(rng) - 0.5);
      p[2] = c + 0.6 * (u(rng) - 0.5);
      p[3] = 0.9 + 0.3 * u(rng);
      p[4] = 10.0 * (0.8 + 0.4 * u(rng));
      return;
    }
    default:
      throw std::invalid_argument("no workload " + std::to_string(w.id));
  }
}

// FWHM of a Gaussian in units of sigma: 2 sqrt(2 ln 2).
constexpr double kFwhmPerSigma = 2.3548200450309493;

// For a peak-position parameter j, the index of its peak's sigma; else -1.
int position_width_index(const Workload& w, int j) {
  switch (w.id) {
    case 1:
      return j == 1 ? 2 : -1;  // amplitude, center, sigma, c
    case 3:
      return j < 9 && j % 3 == 1 ? j + 1 : -1;  // (amplitude, center, sigma) x 3, linear
    case 4:
      return j == 1 || j == 2 ? 3 : -1;  // amplitude, x0, y0, sigma, offset
    default:
      return -1;
  }
}

}  // namespace

Workload workload_shape(int id) {
  Workload w;
  w.id = id;
  w.label = "w" + std::to_string(id);
  switch (id) {
    case 1:
      w.spec = "gaussian+constant";
      w.m = 128;
      w.noise = 0.02;
      break;
    case 2:
      w.spec = "exponential*2+constant";
      w.m = 256;
      w.noise = 0.02;
      break;
    case 3:
      w.spec = "gaussian*3+linear";
      w.m = 1024;
      w.noise = 0.02;
      break;
    case 4:
      w.spec = "gauss2d";
      w.kind = ModelKind::gauss2d;
      w.side = 5;
      w.m = 25;
      w.noise = 3.0;
      break;
    default:
      throw std::invalid_argument("workloads are 1..4, not " + std::to_string(id));
  }
  if (w.kind == ModelKind::catalogue) {
    w.model = models::Model::parse(w.spec);
    w.n = w.model->n_params();
    w.parameter_names = w.model->parameter_names();
    w.name = w.spec + " (m=" + std::to_string(w.m) + ", n=" + std::to_string(w.n) + ")";
  } else {
    w.n = 5;
    w.parameter_names = {"amplitude", "x0", "y0", "sigma", "offset"};
    w.name = "gauss2d, Gpufit (5x5, n=5)";
  }
  w.xs.resize(static_cast<std::size_t>(w.m));
  for (int i = 0; i < w.m; ++i) w.xs[i] = i;
  return w;
}

Workload generate_workload(int id, std::size_t count, std::uint64_t seed) {
  Workload w = workload_shape(id);
  w.seed = seed;
  w.count = count;
  const auto mm = static_cast<std::size_t>(w.m), nn = static_cast<std::size_t>(w.n);
  w.y.resize(count * mm);
  w.x0.resize(count * nn);
  w.truth.resize(count * nn);
  Evaluator ev(w);
  std::vector<double> f(mm);
  for (std::size_t k = 0; k < count; ++k) {
    std::mt19937_64 rng(splitmix64(seed ^ splitmix64(k * 8 + static_cast<std::uint64_t>(id))));
    double* p = w.truth.data() + k * nn;
    sample_truth(w, rng, p);
    ev.value(p, f.data());
    std::normal_distribution<double> noise(0.0, w.noise);
    for (std::size_t i = 0; i < mm; ++i) w.y[k * mm + i] = f[i] + noise(rng);
    // Starting point: each parameter 10-20 % off its true value, either way;
    // peak positions (whose value depends on where x starts) 10-20 % of their
    // peak's FWHM off.
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (std::size_t j = 0; j < nn; ++j) {
      const double off = 0.1 + 0.1 * u(rng);
      const double sign = u(rng) < 0.5 ? -1.0 : 1.0;
      const int sigma_index = position_width_index(w, static_cast<int>(j));
      w.x0[k * nn + j] = sigma_index < 0
                             ? p[j] * (1.0 + sign * off)
                             : p[j] + sign * off * kFwhmPerSigma * p[sigma_index];
    }
  }
  return w;
}

// ---- HDF5 ----

namespace {

struct H5 {
  hid_t id;
  herr_t (*close)(hid_t);
  H5(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  H5(const H5&) = delete;
  H5& operator=(const H5&) = delete;
  ~H5() {
    if (id >= 0) close(id);
  }
};

void check(bool ok, const std::string& path, const std::string& what) {
  if (!ok) throw std::runtime_error(path + ": " + what);
}

void write_2d(hid_t file, const std::string& path, const char* name, const double* data,
              hsize_t rows, hsize_t cols, bool compress) {
  const hsize_t dims[2] = {rows, cols};
  const int rank = cols == 0 ? 1 : 2;
  const hsize_t dims1[1] = {rows};
  H5 space(H5Screate_simple(rank, rank == 2 ? dims : dims1, nullptr), H5Sclose);
  H5 dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (compress && rows > 0) {
    const hsize_t chunk[2] = {std::min<hsize_t>(rows, 1024), cols};
    H5Pset_chunk(dcpl.id, rank, chunk);
    H5Pset_shuffle(dcpl.id);
    H5Pset_deflate(dcpl.id, 1);
  }
  H5 ds(H5Dcreate2(file, name, H5T_IEEE_F64LE, space.id, H5P_DEFAULT, dcpl.id, H5P_DEFAULT),
        H5Dclose);
  check(ds.id >= 0, path, std::string("cannot create ") + name);
  check(H5Dwrite(ds.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, path,
        std::string("cannot write ") + name);
}

void write_attr_string(hid_t obj, const char* name, const std::string& value) {
  H5 type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id, value.size() + 1);
  H5 space(H5Screate(H5S_SCALAR), H5Sclose);
  H5 attr(H5Acreate2(obj, name, type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Awrite(attr.id, type.id, value.c_str());
}

void write_attr_double(hid_t obj, const char* name, double value) {
  H5 space(H5Screate(H5S_SCALAR), H5Sclose);
  H5 attr(H5Acreate2(obj, name, H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Awrite(attr.id, H5T_NATIVE_DOUBLE, &value);
}

double read_attr_double(hid_t obj, const char* name) {
  H5 attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  double v = 0.0;
  if (attr.id >= 0) H5Aread(attr.id, H5T_NATIVE_DOUBLE, &v);
  return v;
}

std::vector<double> read_all(hid_t file, const std::string& path, const char* name,
                             std::vector<hsize_t>& dims) {
  H5 ds(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  check(ds.id >= 0, path, std::string("no dataset ") + name);
  H5 space(H5Dget_space(ds.id), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.id);
  dims.assign(static_cast<std::size_t>(std::max(rank, 0)), 0);
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  hsize_t total = 1;
  for (hsize_t d : dims) total *= d;
  std::vector<double> v(total);
  if (total > 0)
    check(H5Dread(ds.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0, path,
          std::string("cannot read ") + name);
  return v;
}

}  // namespace

void write_data_file(const Workload& w, const std::string& path) {
  H5 file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  check(file.id >= 0, path, "cannot create the file");
  const auto count = static_cast<hsize_t>(w.count);
  write_2d(file.id, path, "/y", w.y.data(), count, static_cast<hsize_t>(w.m), true);
  write_2d(file.id, path, "/x0", w.x0.data(), count, static_cast<hsize_t>(w.n), true);
  write_2d(file.id, path, "/truth", w.truth.data(), count, static_cast<hsize_t>(w.n), true);
  write_2d(file.id, path, "/x", w.xs.data(), static_cast<hsize_t>(w.m), 0, false);
  write_attr_string(file.id, "model", w.spec);
  write_attr_string(file.id, "workload", w.name);
  write_attr_double(file.id, "workload_id", w.id);
  write_attr_double(file.id, "noise", w.noise);
  write_attr_double(file.id, "seed", static_cast<double>(w.seed));
  write_attr_double(file.id, "side", w.side);
  check(H5Fflush(file.id, H5F_SCOPE_GLOBAL) >= 0, path, "flush failed");
}

Workload read_data_file(int id, const std::string& path) {
  Workload w = workload_shape(id);
  H5 file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  check(file.id >= 0, path, "cannot open (run `lmbatch_bench generate` first)");
  std::vector<hsize_t> dims;
  w.y = read_all(file.id, path, "/y", dims);
  check(dims.size() == 2 && dims[1] == static_cast<hsize_t>(w.m), path, "/y has the wrong shape");
  w.count = static_cast<std::size_t>(dims[0]);
  w.x0 = read_all(file.id, path, "/x0", dims);
  check(dims.size() == 2 && dims[0] == w.count && dims[1] == static_cast<hsize_t>(w.n), path,
        "/x0 has the wrong shape");
  w.truth = read_all(file.id, path, "/truth", dims);
  w.seed = static_cast<std::uint64_t>(read_attr_double(file.id, "seed"));
  check(static_cast<int>(read_attr_double(file.id, "workload_id")) == id, path,
        "holds another workload");
  return w;
}

}  // namespace lmbatch::bench
