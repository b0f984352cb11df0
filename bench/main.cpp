// lmbatch_bench: lmbatch against cminpack, Eigen's LM, Ceres' tiny_solver,
// scipy (from scipy_loop.py's files) and the floor, on the same problems.
//
//   lmbatch_bench generate --data-dir D [--problems N] [--problems-wK N] [--workloads 1,2,3,4]
//                          [--seed S]
//   lmbatch_bench run --data-dir D [--problems N] [--reps R] [--blocks B] [--lmbatch PATH]
//                     [--json FILE] [--md FILE] [--workloads ...] [--no-fit] [--label TEXT]
//   lmbatch_bench profile --workload W [--problems N] [--peer KEY|floor|floor_lmdif] [--reps R]
//
// No timing is asserted anywhere: the figures are reported, never checked.
#include <hdf5.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "lmbatch/leastsq/lanes.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/targets.hpp"

extern char** environ;

namespace lmbatch::bench {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- options

struct Args {
  std::string command;
  std::string data_dir = "bench-data";
  std::vector<int> workloads{1, 2, 3, 4};
  std::size_t problems = 20000;  // generate: problems per workload; run: at most this many
  std::map<int, std::size_t> problems_for;  // run: per-workload override (--problems-w3 N)
  std::uint64_t seed = 20240604;
  int reps = 3;
  std::size_t blocks = 8;  // run: timing blocks per workload (see run_workload)
  std::string lmbatch = LMBATCH_BENCH_LMBATCH_PATH;
  std::string json_out, md_out, label;
  bool fit = true;
  int workload = 1;
  std::string peer = "lmbatch_lmder_loop";
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "lmbatch_bench: " << why << "\n"
            << "usage: lmbatch_bench generate --data-dir D [--problems N] [--problems-wK N]"
               " [--workloads 1,2,3,4] [--seed S]\n"
               "       lmbatch_bench run --data-dir D [--problems N] [--problems-wK N] [--reps R]"
               " [--blocks B]\n"
               "                         [--lmbatch PATH] [--json F] [--md F] [--no-fit]"
               " [--label TEXT]\n"
               "       lmbatch_bench profile --workload W [--problems N] [--peer KEY] [--reps R]\n";
  std::exit(2);
}

Args parse(int argc, char** argv) {
  if (argc < 2) usage("no command");
  Args a;
  a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(k + " needs a value");
      return argv[++i];
    };
    if (k == "--data-dir") {
      a.data_dir = value();
    } else if (k == "--workloads") {
      a.workloads.clear();
      std::stringstream ss(value());
      for (std::string t; std::getline(ss, t, ',');) a.workloads.push_back(std::stoi(t));
    } else if (k == "--problems") {
      a.problems = std::stoull(value());
    } else if (k.rfind("--problems-w", 0) == 0) {
      a.problems_for[std::stoi(k.substr(12))] = std::stoull(value());
    } else if (k == "--seed") {
      a.seed = std::stoull(value());
    } else if (k == "--blocks") {
      a.blocks = std::max<std::size_t>(1, std::stoull(value()));
    } else if (k == "--reps") {
      a.reps = std::max(1, std::stoi(value()));
    } else if (k == "--lmbatch") {
      a.lmbatch = value();
    } else if (k == "--json") {
      a.json_out = value();
    } else if (k == "--md") {
      a.md_out = value();
    } else if (k == "--label") {
      a.label = value();
    } else if (k == "--no-fit") {
      a.fit = false;
    } else if (k == "--workload") {
      a.workload = std::stoi(value());
    } else if (k == "--peer") {
      a.peer = value();
    } else {
      usage("unknown option " + k);
    }
  }
  return a;
}

// ---------------------------------------------------------------- helpers

std::string data_path(const Args& a, const Workload& w, const std::string& suffix) {
  return (fs::path(a.data_dir) / (w.label + suffix)).string();
}

std::vector<PeerInfo> all_peers() {
  std::vector<PeerInfo> peers = lmbatch_peers();
#ifdef LMBATCH_BENCH_HAVE_CMINPACK
  for (auto& p : cminpack_peers()) peers.push_back(p);
#endif
#ifdef LMBATCH_BENCH_HAVE_EIGEN
  for (auto& p : eigen_peers()) peers.push_back(p);
#endif
#ifdef LMBATCH_BENCH_HAVE_CERES
  for (auto& p : ceres_peers()) peers.push_back(p);
#endif
  return peers;
}

std::vector<std::string> missing_peers() {
  std::vector<std::string> missing;
#ifndef LMBATCH_BENCH_HAVE_CMINPACK
  missing.push_back(
      "cminpack (not built: libcminpack-dev missing at configure time, or "
      "LMBATCH_BENCH_PEERS=OFF)");
#endif
#ifndef LMBATCH_BENCH_HAVE_EIGEN
  missing.push_back(
      "Eigen LevenbergMarquardt (not built: libeigen3-dev missing, or LMBATCH_BENCH_PEERS=OFF)");
#endif
#ifndef LMBATCH_BENCH_HAVE_CERES
  missing.push_back(
      "Ceres tiny_solver (not built: libceres-dev missing, or LMBATCH_BENCH_PEERS=OFF)");
#endif
  return missing;
}

bool peer_applies(const PeerInfo& p, const Workload& w) {
  // batch::fit takes catalogue models; gauss2d is not one.
  if (p.key.rfind("engine_", 0) == 0 && w.kind != ModelKind::catalogue) return false;
  return true;
}

// Peak resident set of this process since the last reset, in KiB (VmHWM).
long peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}
void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";  // Linux >= 4.0: resets VmHWM to the current RSS
}
long current_rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

double rel_diff(const double* a, const double* b, int n) {
  double worst = 0.0;
  for (int j = 0; j < n; ++j) {
    if (a[j] == b[j]) continue;
    const double d = std::fabs(a[j] - b[j]) / std::fabs(b[j]);
    if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d;
  }
  return worst;
}

// Per-problem outcomes of a reference (scipy, cminpack, the loop).
struct Reference {
  std::string name;
  std::size_t count = 0;
  std::vector<int> ier, nfev, njev;
  std::vector<double> x;
  bool available = false;
  double wall_seconds = 0.0, cpu_seconds = 0.0;  // scipy: its loop over `count` problems
  std::string note;
};

Reference as_reference(const PeerResult& r) {
  Reference ref;
  ref.name = r.name;
  ref.count = r.count;
  ref.ier = r.ier;
  ref.nfev = r.nfev;
  ref.njev = r.njev;
  ref.x = r.x;
  ref.available = true;
  return ref;
}

struct Agreement {
  std::size_t compared = 0;
  std::size_t ier_same = 0;      // identical ier (MINPACK codes) or success (other peers)
  std::size_t nfev_same = 0;     // identical nfev (and njev where compared)
  std::size_t counts_same = 0;   // identical ier, nfev and njev
  std::size_t x_identical = 0;   // bit-identical x
  std::size_t both_success = 0;  // both converged (ier 1..4 / the peer's success)
  double worst_rel_x = 0.0;      // over the problems where both converged
  bool exact_codes = true;
  json to_json() const {
    return {{"compared", compared},
            {"ier_same", ier_same},
            {"nfev_same", nfev_same},
            {"ier_nfev_njev_same", counts_same},
            {"x_bit_identical", x_identical},
            {"both_converged", both_success},
            {"worst_rel_x_both_converged", worst_rel_x},
            {"compares", exact_codes ? "ier" : "success only"}};
  }
};

bool minpack_success(int ier) {
  return ier >= 1 && ier <= 4;
}

Agreement compare(const PeerResult& p, const Reference& ref, int n, bool compare_njev) {
  Agreement a;
  a.exact_codes = p.minpack_codes;
  a.compared = std::min(p.count, ref.count);
  const auto nn = static_cast<std::size_t>(n);
  for (std::size_t k = 0; k < a.compared; ++k) {
    const bool ref_ok = minpack_success(ref.ier[k]);
    const bool ok = p.success[k] != 0;
    const bool ier_same = p.minpack_codes ? p.ier[k] == ref.ier[k] : ok == ref_ok;
    const bool nfev_same = p.nfev[k] == ref.nfev[k] && (!compare_njev || p.njev[k] == ref.njev[k]);
    a.ier_same += ier_same;
    a.nfev_same += nfev_same;
    a.counts_same += p.minpack_codes && ier_same && nfev_same;
    const double* x = p.x.data() + k * nn;
    const double* rx = ref.x.data() + k * nn;
    if (std::equal(x, x + nn, rx)) ++a.x_identical;
    if (ok && ref_ok) {
      ++a.both_success;
      a.worst_rel_x = std::max(a.worst_rel_x, rel_diff(x, rx, n));
    }
  }
  return a;
}

// ---------------------------------------------------------------- scipy results

// A whole dataset as doubles (mem_type H5T_NATIVE_DOUBLE) or via int
// (H5T_NATIVE_INT, for ier/nfev/njev); ok says whether it could be read.
std::vector<double> read_dataset(hid_t file, const std::string& name, hid_t mem_type, bool& ok) {
  ok = false;
  std::vector<double> out;
  const hid_t ds = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  if (ds < 0) return out;
  const hid_t space = H5Dget_space(ds);
  const hssize_t total = H5Sget_simple_extent_npoints(space);
  H5Sclose(space);
  if (mem_type == H5T_NATIVE_DOUBLE) {
    out.resize(static_cast<std::size_t>(total));
    ok = H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0;
  } else {
    std::vector<int> v(static_cast<std::size_t>(total));
    ok = H5Dread(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0;
    out.assign(v.begin(), v.end());
  }
  H5Dclose(ds);
  return out;
}

double read_double_attribute(hid_t obj, const char* name, double fallback) {
  if (H5Aexists(obj, name) <= 0) return fallback;
  const hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  double v = fallback;
  H5Aread(attr, H5T_NATIVE_DOUBLE, &v);
  H5Aclose(attr);
  return v;
}

std::string read_string_attribute(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return "";
  const hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  const hid_t type = H5Aget_type(attr);
  std::string out;
  if (H5Tis_variable_str(type) > 0) {
    char* s = nullptr;
    const hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));
    if (H5Aread(attr, mem, &s) >= 0 && s) out = s;
    if (s) H5free_memory(s);
    H5Tclose(mem);
  } else {
    const std::size_t size = H5Tget_size(type);
    std::string buf(size, '\0');
    const hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, size);
    if (H5Aread(attr, mem, buf.data()) >= 0) out = buf.c_str();
    H5Tclose(mem);
  }
  H5Tclose(type);
  H5Aclose(attr);
  return out;
}

// scipy_loop.py writes D/wK.scipy.h5 with groups /analytic (Dfun given) and
// /forward (no Dfun): ier, nfev, njev, x per problem, attribute seconds.
Reference read_scipy(const std::string& path, const std::string& group, int n) {
  Reference ref;
  ref.name = "scipy leastsq " + group;
  if (!fs::exists(path)) {
    ref.note = "no " + path + " (scipy_loop.py not run)";
    return ref;
  }
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    ref.note = "cannot open " + path;
    return ref;
  }
  const hid_t g = H5Gopen2(file, ("/" + group).c_str(), H5P_DEFAULT);
  if (g >= 0) {
    bool ok1, ok2, ok3, ok4;
    const auto ier = read_dataset(file, "/" + group + "/ier", H5T_NATIVE_INT, ok1);
    const auto nfev = read_dataset(file, "/" + group + "/nfev", H5T_NATIVE_INT, ok2);
    const auto njev = read_dataset(file, "/" + group + "/njev", H5T_NATIVE_INT, ok3);
    ref.x = read_dataset(file, "/" + group + "/x", H5T_NATIVE_DOUBLE, ok4);
    if (ok1 && ok2 && ok3 && ok4 && ref.x.size() == ier.size() * static_cast<std::size_t>(n)) {
      ref.count = ier.size();
      ref.ier.assign(ier.begin(), ier.end());
      ref.nfev.assign(nfev.begin(), nfev.end());
      ref.njev.assign(njev.begin(), njev.end());
      ref.wall_seconds = read_double_attribute(g, "seconds", 0.0);
      ref.cpu_seconds = read_double_attribute(g, "cpu_seconds", ref.wall_seconds);
      ref.note = read_string_attribute(g, "note");
      ref.available = true;
    } else {
      ref.note = path + ": incomplete group /" + group;
    }
    H5Gclose(g);
  } else {
    ref.note = path + ": no group /" + group;
  }
  H5Fclose(file);
  return ref;
}

json scipy_file_info(const std::string& path) {
  json j = json::object();
  if (!fs::exists(path)) return j;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return j;
  for (const char* name : {"scipy_version", "numpy_version", "python_version",
                           "bit_identical_residuals", "numpy_cpu_features_disabled"})
    j[name] = read_string_attribute(file, name);
  H5Fclose(file);
  return j;
}

// ---------------------------------------------------------------- lmbatch fit

struct FitRun {
  bool ran = false;
  int exit_status = -1;
  double wall_seconds = 0.0;      // the whole process: start, read, solve, write, close
  double pipeline_seconds = 0.0;  // batch::run's own figure (--summary-json)
  double cpu_seconds = 0.0;       // the child's user + system time (wait4)
  long max_rss_kib = 0;           // the child's peak RSS (wait4)
  std::size_t results_identical = 0, compared = 0;
  std::string command, note;
};

// extra: more arguments; with any, the results are not compared (a part).
FitRun run_lmbatch_fit(const Args& a, const Workload& w, int threads, const PeerResult& engine,
                       const std::vector<std::string>& extra = {}) {
  FitRun f;
  if (!a.fit) {
    f.note = "skipped (--no-fit)";
    return f;
  }
  if (a.lmbatch.empty() || !fs::exists(a.lmbatch)) {
    f.note = "lmbatch binary not found: " + a.lmbatch;
    return f;
  }
  const std::string in = data_path(a, w, ".h5");
  const std::string tag = extra.empty() ? ".fit" : ".fit-part";
  const std::string out = data_path(a, w, tag + ".h5");
  const std::string summary = data_path(a, w, tag + ".json");
  std::vector<std::string> argv_s = {a.lmbatch,     "--quiet",
                                     "fit",         in,
                                     "-o",          out,
                                     "--model",     w.spec,
                                     "--x",         "/x",
                                     "--x0",        "/x0",
                                     "--threads",   std::to_string(threads),
                                     "--overwrite", "--summary-json",
                                     summary};
  argv_s.insert(argv_s.end(), extra.begin(), extra.end());
  for (const auto& s : argv_s) f.command += (f.command.empty() ? "" : " ") + s;
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  const double t0 = now_seconds();
  pid_t pid = 0;
  if (posix_spawn(&pid, a.lmbatch.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
    f.note = "cannot start " + a.lmbatch;
    return f;
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  f.wall_seconds = now_seconds() - t0;
  f.ran = true;
  f.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  f.max_rss_kib = usage.ru_maxrss;
  f.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  if (f.exit_status != 0) {
    f.note = "lmbatch fit exited with " + std::to_string(f.exit_status);
    return f;
  }
  try {
    std::ifstream js(summary);
    const json j = json::parse(js);
    f.pipeline_seconds = j.value("seconds", 0.0);
  } catch (const std::exception&) {
    f.note = "no summary JSON";
  }
  if (!extra.empty()) return f;
  // The file's results against the in-memory engine's.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file >= 0) {
    bool ok1, ok2, ok3;
    const auto ier = read_dataset(file, "/ier", H5T_NATIVE_INT, ok1);
    const auto nfev = read_dataset(file, "/nfev", H5T_NATIVE_INT, ok2);
    const auto x = read_dataset(file, "/x", H5T_NATIVE_DOUBLE, ok3);
    if (ok1 && ok2 && ok3) {
      f.compared = std::min(ier.size(), engine.count);
      const auto nn = static_cast<std::size_t>(w.n);
      for (std::size_t k = 0; k < f.compared; ++k)
        if (ier[k] == engine.ier[k] && nfev[k] == engine.nfev[k] &&
            std::equal(x.begin() + static_cast<std::ptrdiff_t>(k * nn),
                       x.begin() + static_cast<std::ptrdiff_t>((k + 1) * nn),
                       engine.x.begin() + static_cast<std::ptrdiff_t>(k * nn)))
          ++f.results_identical;
    }
    H5Fclose(file);
  }
  return f;
}

// ---------------------------------------------------------------- formatting

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string fmt_rate(double v) {
  if (!(v > 0)) return "-";
  if (v >= 100) return fmt("%.0f", v);
  if (v >= 10) return fmt("%.1f", v);
  return fmt("%.2f", v);
}
std::string fmt_ratio(double v) {
  if (!(v > 0) || !std::isfinite(v)) return "-";
  return v >= 10 ? fmt("%.1fx", v) : fmt("%.2fx", v);
}
std::string fmt_rel(double v) {
  if (v == 0.0) return "0";
  if (!std::isfinite(v)) return "inf";
  return fmt("%.1e", v);
}
std::string fmt_count(std::size_t a, std::size_t b) {
  return std::to_string(a) + "/" + std::to_string(b);
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

json load_average() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) != 3) return nullptr;
  return {l[0], l[1], l[2]};
}

// ---------------------------------------------------------------- commands

int cmd_generate(const Args& a) {
  fs::create_directories(a.data_dir);
  for (int id : a.workloads) {
    const double t0 = now_seconds();
    std::size_t count = a.problems;
    if (auto it = a.problems_for.find(id); it != a.problems_for.end()) count = it->second;
    const Workload w = generate_workload(id, count, a.seed);
    const std::string path = data_path(a, w, ".h5");
    write_data_file(w, path);
    std::printf("%s: %zu problems of %s (%.1f s)\n", path.c_str(), w.count, w.name.c_str(),
                now_seconds() - t0);
  }
  return 0;
}

struct PeerRecord {
  PeerInfo info;
  PeerResult result;
  double floor_seconds = 0.0;   // the floor for this peer's evaluation counts (CPU seconds)
  bool floor_measured = false;  // measured directly (lmbatch), else from per-call costs
  // Threaded peers are timed with the process's CPU clock, the others with
  // their thread's (TBB's idle workers must not bill a single-threaded peer).
  bool process_clock() const { return info.threads > 1 || info.key.rfind("engine_", 0) == 0; }
  double cpu(const Times& t) const { return process_clock() ? t.process_cpu : t.thread_cpu; }
  double best_cpu() const { return cpu(result.best); }
  double best_wall() const { return result.best.wall; }
  bool whole_set() const { return info.key.rfind("engine_", 0) == 0; }
};

double mean_of(const std::vector<int>& v, std::size_t count) {
  double sum = 0;
  for (std::size_t k = 0; k < count; ++k) sum += v[k];
  return count ? sum / static_cast<double>(count) : 0.0;
}

json run_workload(const Args& a, int id, std::string& md) {
  const Workload w =
      read_data_file(id, (fs::path(a.data_dir) / ("w" + std::to_string(id) + ".h5")).string());
  std::size_t count = std::min(w.count, a.problems);
  if (auto it = a.problems_for.find(id); it != a.problems_for.end())
    count = std::min(w.count, it->second);
  std::fprintf(stderr, "== %s: %zu problems, %d repetitions\n", w.name.c_str(), count, a.reps);

  std::vector<PeerRecord> peers;
  for (const PeerInfo& p : all_peers())
    if (peer_applies(p, w)) peers.push_back({p, {}, 0.0, false});
  auto find = [&](const std::string& key) -> PeerRecord* {
    for (auto& p : peers)
      if (p.info.key == key) return &p;
    return nullptr;
  };

  // Timing: the problems are cut into blocks, and every repetition runs each
  // block through every peer in turn, so that a burst of load from another
  // process on the machine hits the peers alike; a peer's time is the sum over
  // blocks of its best time for that block. Results come from the first
  // repetition (they are the same in every one).
  // Blocks of at least kMinBlock problems: batch::fit has a fixed cost per call
  // (it sizes its chunk buffers for chunk_size problems whatever the count),
  // which blocks much smaller than a chunk would inflate.
  constexpr std::size_t kMinBlock = 500;
  const std::size_t blocks =
      std::max<std::size_t>(1, std::min<std::size_t>(a.blocks, count / kMinBlock));
  std::vector<std::size_t> edges;
  for (std::size_t b = 0; b <= blocks; ++b) edges.push_back(count * b / blocks);
  for (auto& p : peers) {
    PeerResult& r = p.result;
    r.key = p.info.key;
    r.name = p.info.name;
    r.analytic = p.info.analytic;
    r.minpack_codes = p.info.minpack_codes;
    r.threads = p.info.threads;
    r.note = p.info.note;
    r.resize(count, w.n);
  }
  std::vector<std::vector<Times>> block_best(peers.size(), std::vector<Times>(blocks));
  std::vector<FloorTimes> floor_der_blocks(blocks), floor_dif_blocks(blocks);
  PeerResult scratch;
  for (int rep = 0; rep < a.reps; ++rep) {
    std::vector<Times> rep_total(peers.size());
    for (std::size_t b = 0; b < blocks; ++b) {
      for (std::size_t i = 0; i < peers.size(); ++i) {
        PeerRecord& p = peers[i];
        PeerResult& r = rep == 0 ? p.result : scratch;
        if (rep > 0 && scratch.count != count) scratch.resize(count, w.n);
        // The engine is called once on every problem, as `lmbatch fit` and a
        // library user call it: blocks would add its per-call cost and, with 2
        // threads, leave one idle on each block's last chunk.
        const bool whole = p.whole_set();
        if (whole && b > 0) continue;
        const Times t =
            whole ? p.info.run(w, 0, count, r) : p.info.run(w, edges[b], edges[b + 1], r);
        Times& best = block_best[i][b];
        if (rep == 0) {
          best = t;
        } else {
          best.wall = std::min(best.wall, t.wall);
          best.thread_cpu = std::min(best.thread_cpu, t.thread_cpu);
          best.process_cpu = std::min(best.process_cpu, t.process_cpu);
        }
        rep_total[i].wall += t.wall;
        rep_total[i].thread_cpu += t.thread_cpu;
        rep_total[i].process_cpu += t.process_cpu;
      }
      // The floor, for the evaluation counts of lmbatch's lmder and lmdif.
      for (const bool analytic : {true, false}) {
        const PeerRecord* ref = find(analytic ? "lmbatch_lmder_loop" : "lmbatch_lmdif_loop");
        if (!ref) continue;
        const FloorTimes t =
            run_floor(w, edges[b], edges[b + 1], ref->result.nfev, ref->result.njev);
        FloorTimes& best = (analytic ? floor_der_blocks : floor_dif_blocks)[b];
        if (rep == 0 || t.total() < best.total()) best = t;
      }
    }
    for (std::size_t i = 0; i < peers.size(); ++i) {
      PeerRecord& p = peers[i];
      p.result.reps.push_back(rep_total[i]);
      std::fprintf(stderr, "  %-34s wall %8.3f s  cpu %8.3f s  (%s fits/s per core)\n",
                   p.info.name.c_str(), rep_total[i].wall, p.cpu(rep_total[i]),
                   fmt_rate(static_cast<double>(count) / p.cpu(rep_total[i])).c_str());
    }
  }
  for (std::size_t i = 0; i < peers.size(); ++i) {
    Times sum;
    for (const Times& t : block_best[i]) {
      sum.wall += t.wall;
      sum.thread_cpu += t.thread_cpu;
      sum.process_cpu += t.process_cpu;
    }
    peers[i].result.best = sum;
  }
  FloorTimes floor_der_best, floor_dif_best;
  for (std::size_t b = 0; b < blocks; ++b) {
    for (auto [sum, part] : {std::pair{&floor_der_best, &floor_der_blocks[b]},
                             std::pair{&floor_dif_best, &floor_dif_blocks[b]}}) {
      sum->residual_seconds += part->residual_seconds;
      sum->jacobian_seconds += part->jacobian_seconds;
      sum->residual_calls += part->residual_calls;
      sum->jacobian_calls += part->jacobian_calls;
    }
  }
  std::fprintf(stderr, "  %-34s          cpu %8.3f s (lmder counts), %.3f s (lmdif counts)\n",
               "floor, best per block", floor_der_best.total(), floor_dif_best.total());

  // Per-call costs of the model, for the floors of the other peers.
  const double t_res = (floor_der_best.residual_seconds + floor_dif_best.residual_seconds) /
                       static_cast<double>(std::max<long long>(
                           1, floor_der_best.residual_calls + floor_dif_best.residual_calls));
  const double t_jac = floor_der_best.jacobian_seconds /
                       static_cast<double>(std::max<long long>(1, floor_der_best.jacobian_calls));
  for (auto& p : peers) {
    const PeerResult& r = p.result;
    if (p.info.key == "lmbatch_lmder_loop" || p.info.key == "engine_lmder_1t") {
      p.floor_seconds = floor_der_best.total();
      p.floor_measured = true;
    } else if (p.info.key == "lmbatch_lmdif_loop" || p.info.key == "engine_lmdif_1t") {
      p.floor_seconds = floor_dif_best.total();
      p.floor_measured = true;
    } else {
      p.floor_seconds = mean_of(r.nfev, r.count) * static_cast<double>(r.count) * t_res +
                        mean_of(r.njev, r.count) * static_cast<double>(r.count) * t_jac;
    }
  }

  // References: scipy (subset), cminpack, the lmbatch loop.
  const std::string scipy_path = data_path(a, w, ".scipy.h5");
  const Reference scipy_der = read_scipy(scipy_path, "analytic", w.n);
  const Reference scipy_dif = read_scipy(scipy_path, "forward", w.n);
  const PeerRecord* cm_der = find("cminpack_lmder");
  const PeerRecord* cm_dif = find("cminpack_lmdif");
  const PeerRecord* loop_der = find("lmbatch_lmder_loop");
  const PeerRecord* loop_dif = find("lmbatch_lmdif_loop");
  const double cm_rate = cm_der ? static_cast<double>(count) / cm_der->best_cpu() : 0.0;

  json jw;
  jw["id"] = w.id;
  jw["name"] = w.name;
  jw["model"] = w.spec;
  jw["m"] = w.m;
  jw["n"] = w.n;
  jw["problems"] = count;
  jw["timing_blocks"] = blocks;
  jw["noise"] = w.noise;
  jw["floor"] = {{"lmder_counts_cpu_seconds", floor_der_best.total()},
                 {"lmdif_counts_cpu_seconds", floor_dif_best.total()},
                 {"residual_call_us", t_res * 1e6},
                 {"jacobian_call_us", t_jac * 1e6}};
  json jpeers = json::array();

  md += "\n### " + w.name + "\n\n";
  md += std::to_string(count) + " problems";
  if (scipy_der.available) md += " (scipy: the first " + std::to_string(scipy_der.count) + ")";
  md += "; one evaluation of the residuals costs " + fmt("%.2f", t_res * 1e6) +
        " us, one of the Jacobian " + fmt("%.2f", t_jac * 1e6) + " us.\n\n";
  md +=
      "| peer | fits/s per core | vs cminpack lmder | mean nfev (njev) | converged | "
      "ier = scipy | nfev = scipy | worst rel. x diff vs scipy | vs floor |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";

  for (auto& p : peers) {
    const PeerResult& r = p.result;
    const double mean_nfev = mean_of(r.nfev, r.count);
    const double mean_njev = mean_of(r.njev, r.count);
    const std::size_t converged =
        static_cast<std::size_t>(std::count(r.success.begin(), r.success.end(), 1));
    const double cpu = p.best_cpu();
    const double rate_core = static_cast<double>(r.count) / cpu;
    const Reference& sref = r.analytic ? scipy_der : scipy_dif;
    Agreement ag;
    if (sref.available) ag = compare(r, sref, w.n, r.analytic);
    const double floor_ratio = p.floor_seconds > 0 ? cpu / p.floor_seconds : 0;
    json reps = json::array();
    for (const Times& t : r.reps) reps.push_back({{"wall", t.wall}, {"cpu", p.cpu(t)}});
    json jp = {{"key", r.key},
               {"name", r.name},
               {"threads", r.threads},
               {"analytic_jacobian", r.analytic},
               {"problems", r.count},
               {"cpu_seconds_best", cpu},
               {"wall_seconds_best", r.best.wall},
               {"reps", reps},
               {"fits_per_second_per_core", rate_core},
               {"fits_per_second_wall", static_cast<double>(r.count) / r.best.wall},
               {"vs_cminpack_lmder", cm_rate > 0 ? rate_core / cm_rate : 0.0},
               {"mean_nfev", mean_nfev},
               {"mean_njev", mean_njev},
               {"converged", converged},
               {"vs_floor", floor_ratio},
               {"floor_measured_directly", p.floor_measured},
               {"note", r.note}};
    if (sref.available) jp["vs_scipy"] = ag.to_json();
    jpeers.push_back(jp);
    std::string row = "| " + r.name + " | " + fmt_rate(rate_core) + " | " +
                      fmt_ratio(cm_rate > 0 ? rate_core / cm_rate : 0) + " | " +
                      fmt("%.2f", mean_nfev) +
                      (r.analytic ? " (" + fmt("%.2f", mean_njev) + ")" : "") + " | " +
                      fmt_count(converged, r.count) + " | ";
    if (ag.compared) {
      row += fmt_count(ag.ier_same, ag.compared) + (ag.exact_codes ? "" : " (success)") + " | " +
             (ag.exact_codes ? fmt_count(ag.nfev_same, ag.compared) : std::string("-")) + " | " +
             fmt_rel(ag.worst_rel_x) + " | ";
    } else {
      row += "- | - | - | ";
    }
    row +=
        (floor_ratio > 0 ? fmt_ratio(floor_ratio) + (p.floor_measured ? "" : "*") : "-") + " |\n";
    md += row;
  }
  // scipy's own rows (its Python loop over the subset).
  for (const Reference* s : {&scipy_der, &scipy_dif}) {
    if (!s->available || s->cpu_seconds <= 0) continue;
    const bool analytic = s == &scipy_der;
    const double mean_nfev = mean_of(s->nfev, s->count);
    const double mean_njev = mean_of(s->njev, s->count);
    const double rate = static_cast<double>(s->count) / s->cpu_seconds;
    const double floor_s =
        static_cast<double>(s->count) * (mean_nfev * t_res + (analytic ? mean_njev * t_jac : 0.0));
    std::size_t converged = 0;
    for (std::size_t k = 0; k < s->count; ++k) converged += minpack_success(s->ier[k]);
    jpeers.push_back({{"key", analytic ? "scipy_leastsq_dfun" : "scipy_leastsq_forward"},
                      {"name", s->name},
                      {"threads", 1},
                      {"problems", s->count},
                      {"cpu_seconds_best", s->cpu_seconds},
                      {"wall_seconds_best", s->wall_seconds},
                      {"fits_per_second_per_core", rate},
                      {"vs_cminpack_lmder", cm_rate > 0 ? rate / cm_rate : 0.0},
                      {"mean_nfev", mean_nfev},
                      {"mean_njev", mean_njev},
                      {"converged", converged},
                      {"vs_floor", floor_s > 0 ? s->cpu_seconds / floor_s : 0.0},
                      {"note", s->note}});
    md += "| " + std::string(analytic ? "scipy leastsq, Dfun" : "scipy leastsq, forward") +
          " (Python loop) | " + fmt_rate(rate) + " | " +
          fmt_ratio(cm_rate > 0 ? rate / cm_rate : 0) + " | " + fmt("%.2f", mean_nfev) +
          (analytic ? " (" + fmt("%.2f", mean_njev) + ")" : "") + " | " +
          fmt_count(converged, s->count) + " | reference | reference | reference | " +
          fmt_ratio(floor_s > 0 ? s->cpu_seconds / floor_s : 0) + "* |\n";
  }
  jw["peers"] = jpeers;
  if (!scipy_der.available) jw["scipy_note"] = scipy_der.note;
  jw["scipy"] = scipy_file_info(scipy_path);

  // lmbatch against cminpack (lmder/lmder, lmdif/lmdif), the engine against the loop.
  json jagree = json::object();
  md += "\n";
  auto agreement_line = [&](const PeerRecord* p, const PeerRecord* ref, const std::string& what,
                            bool njev) {
    if (!p || !ref) return;
    const Agreement ag = compare(p->result, as_reference(ref->result), w.n, njev);
    jagree[what] = ag.to_json();
    md += "- " + what + ": identical ier, nfev" + (njev ? ", njev" : "") + " in " +
          fmt_count(ag.counts_same, ag.compared) + "; bit-identical x in " +
          fmt_count(ag.x_identical, ag.compared) + "; worst rel. x diff " +
          fmt_rel(ag.worst_rel_x) + "\n";
  };
  agreement_line(loop_der, cm_der, "lmbatch lmder vs cminpack lmder", true);
  agreement_line(loop_dif, cm_dif, "lmbatch lmdif vs cminpack lmdif", false);
  agreement_line(find("engine_lmder_1t"), loop_der, "engine lmder 1 thread vs loop", true);
  agreement_line(find("engine_lmder_1t_scalar"), loop_der,
                 "engine lmder 1 thread, simd off vs loop", true);
  agreement_line(find("engine_lmder_2t"), loop_der, "engine lmder 2 threads vs loop", true);
  agreement_line(find("engine_lmdif_1t"), loop_dif, "engine lmdif 1 thread vs loop", false);
  agreement_line(find("engine_lmdif_1t_scalar"), loop_dif,
                 "engine lmdif 1 thread, simd off vs loop", false);
  agreement_line(find("engine_lmdif_2t"), loop_dif, "engine lmdif 2 threads vs loop", false);
  jw["agreement"] = jagree;

  // Scaling 1 -> 2 threads: wall speedup, the cores the 2-thread run got
  // (CPU / wall; < 2 when the machine is shared), and the work efficiency
  // (CPU of 1 thread / CPU of 2 threads: what parallelism itself costs).
  json jscale = json::object();
  auto scaling = [&](const char* one, const char* two, const char* what) {
    const PeerRecord* p1 = find(one);
    const PeerRecord* p2 = find(two);
    if (!p1 || !p2) return;
    const double speedup = p1->best_wall() / p2->best_wall();
    const double cores = p2->best_cpu() / p2->best_wall();
    const double efficiency = p1->best_cpu() / p2->best_cpu();
    jscale[what] = {{"wall_speedup", speedup},
                    {"cores_obtained_2t", cores},
                    {"cores_obtained_1t", p1->best_cpu() / p1->best_wall()},
                    {"work_efficiency", efficiency},
                    {"speedup_on_2_free_cores_estimate", 2.0 * efficiency}};
  };
  scaling("engine_lmder_1t", "engine_lmder_2t", "engine_lmder");
  scaling("engine_lmdif_1t", "engine_lmdif_2t", "engine_lmdif");
  scaling("lmbatch_lmder_loop", "lmbatch_lmder_loop_2t", "loop_lmder_std_thread");
  jw["scaling_1_to_2_threads"] = jscale;

  // lmbatch fit, HDF5 -> HDF5, against the in-memory engine on the same
  // problems: a whole-file batch::fit and a `lmbatch fit` process, in turn,
  // each repetition; best of each.
  json jfit = json::object();
  long engine_peak_rss = -1, engine_base_rss = -1;
  const PeerRecord* e1 = find("engine_lmder_1t");
  if (w.kind == ModelKind::catalogue && count == w.count && e1) {
    FitRun best, fixed;
    Times engine_best;
    PeerResult engine_result;
    engine_result.resize(count, w.n);
    // At least 3 turns: the I/O share is small next to the noise of a shared machine.
    for (int rep = 0; rep < std::max(a.reps, 3); ++rep) {
      if (rep == 0) {
        engine_base_rss = current_rss_kib();
        reset_peak_rss();
      }
      const Times te = e1->info.run(w, 0, count, engine_result);
      if (rep == 0) engine_peak_rss = peak_rss_kib();
      if (rep == 0 || te.process_cpu < engine_best.process_cpu)
        engine_best.process_cpu = te.process_cpu;
      if (rep == 0 || te.wall < engine_best.wall) engine_best.wall = te.wall;
      FitRun f = run_lmbatch_fit(a, w, 1, engine_result);
      // The costs that do not grow with the problems (start-up, opening and
      // creating the files, closing): the same command on one problem.
      const FitRun one =
          run_lmbatch_fit(a, w, 1, engine_result, {"--part", "0/" + std::to_string(count)});
      if (one.ran && one.exit_status == 0 &&
          (rep == 0 || !fixed.ran || one.cpu_seconds < fixed.cpu_seconds))
        fixed = one;
      std::fprintf(stderr,
                   "  %-34s wall %8.3f s  cpu %8.3f s  (pipeline %.3f s, exit %d; engine on the "
                   "whole file: wall %.3f s, cpu %.3f s)\n",
                   "lmbatch fit, 1 thread", f.wall_seconds, f.cpu_seconds, f.pipeline_seconds,
                   f.exit_status, te.wall, te.process_cpu);
      if (!f.ran || f.exit_status != 0) {
        best = f;
        break;
      }
      if (rep == 0) {
        best = f;
      } else {
        best.wall_seconds = std::min(best.wall_seconds, f.wall_seconds);
        best.cpu_seconds = std::min(best.cpu_seconds, f.cpu_seconds);
        best.pipeline_seconds = std::min(best.pipeline_seconds, f.pipeline_seconds);
        best.max_rss_kib = std::max(best.max_rss_kib, f.max_rss_kib);
      }
    }
    const double ecpu = engine_best.process_cpu, ewall = engine_best.wall;
    jfit = {
        {"threads", 1},
        {"command", best.command},
        {"ran", best.ran},
        {"exit_status", best.exit_status},
        {"wall_seconds", best.wall_seconds},
        {"cpu_seconds", best.cpu_seconds},
        {"pipeline_seconds", best.pipeline_seconds},
        {"engine_wall_seconds", ewall},
        {"engine_cpu_seconds", ecpu},
        {"io_overhead_percent_cpu", best.ran ? 100.0 * (best.cpu_seconds / ecpu - 1.0) : 0.0},
        {"io_overhead_percent_wall", best.ran ? 100.0 * (best.wall_seconds / ewall - 1.0) : 0.0},
        {"io_overhead_percent_pipeline_wall",
         best.ran ? 100.0 * (best.pipeline_seconds / ewall - 1.0) : 0.0},
        {"one_problem_cpu_seconds", fixed.ran ? fixed.cpu_seconds : 0.0},
        {"one_problem_command", fixed.command},
        {"per_problem_overhead_percent_cpu",
         best.ran && fixed.ran ? 100.0 * ((best.cpu_seconds - fixed.cpu_seconds) / ecpu - 1.0)
                               : 0.0},
        {"max_rss_kib", best.max_rss_kib},
        {"results_identical_to_engine", best.results_identical},
        {"compared", best.compared},
        {"note", best.note}};
  } else {
    jfit["note"] = w.kind != ModelKind::catalogue
                       ? "gauss2d is not a catalogue model: no engine, no `lmbatch fit`"
                       : "run on a subset of the data file: no end-to-end comparison";
  }
  jw["lmbatch_fit"] = jfit;
  jw["engine_lmder_1t_rss_kib"] = {{"before", engine_base_rss}, {"peak", engine_peak_rss}};
  return jw;
}

// Issue #19's targets (SIMD lanes across problems), reported against, never asserted.
std::string lanes_targets_table(const json& jworkloads) {
  std::string md = "\n### Targets (issue 19: SIMD lanes), as measured\n\n";
  md +=
      "fits/s per core over cminpack lmder's. End to end: `lmbatch fit` HDF5 -> HDF5, 1 thread, "
      "problems / its CPU time (start-up, read, solve, write). Same bits: the engine with "
      "`--simd auto` against the lmder loop (ier, nfev, njev, x).\n\n";
  md +=
      "| workload | engine, simd auto (>= 3x) | engine, simd off | lmder loop | `lmbatch fit` end "
      "to "
      "end (>= 2.5x) | engine simd auto = loop (ier, nfev, njev; x bits) | floor ratio: "
      "simd auto / off |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|\n";
  for (const json& w : jworkloads) {
    std::string lanes = "-", alone = "-", loop = "-", fit_ratio = "-", same = "-", floor = "-";
    double cm_rate = 0.0, lanes_floor = 0.0, alone_floor = 0.0;
    for (const json& p : w["peers"]) {
      if (p["key"] == "cminpack_lmder") cm_rate = p["fits_per_second_per_core"].get<double>();
      if (p["key"] == "engine_lmder_1t") {
        lanes = fmt_ratio(p["vs_cminpack_lmder"].get<double>());
        lanes_floor = p["vs_floor"].get<double>();
      }
      if (p["key"] == "engine_lmder_1t_scalar") {
        alone = fmt_ratio(p["vs_cminpack_lmder"].get<double>());
        alone_floor = p["vs_floor"].get<double>();
      }
      if (p["key"] == "lmbatch_lmder_loop") loop = fmt_ratio(p["vs_cminpack_lmder"].get<double>());
    }
    if (lanes_floor > 0 && alone_floor > 0)
      floor = fmt("%.2fx", lanes_floor) + " / " + fmt("%.2fx", alone_floor);
    const json& f = w["lmbatch_fit"];
    if (cm_rate > 0 && f.value("ran", false) && f.value("exit_status", -1) == 0 &&
        f["cpu_seconds"].get<double>() > 0)
      fit_ratio = fmt_ratio(w["problems"].get<double>() / f["cpu_seconds"].get<double>() / cm_rate);
    if (w["agreement"].contains("engine lmder 1 thread vs loop")) {
      const json& ag = w["agreement"]["engine lmder 1 thread vs loop"];
      same = fmt_count(ag["ier_nfev_njev_same"].get<std::size_t>(),
                       ag["compared"].get<std::size_t>()) +
             "; " +
             fmt_count(ag["x_bit_identical"].get<std::size_t>(), ag["compared"].get<std::size_t>());
    }
    md += "| " + w["name"].get<std::string>() + " | " + lanes + " | " + alone + " | " + loop +
          " | " + fit_ratio + " | " + same + " | " + floor + " |\n";
  }
  return md;
}

std::string summary_tables(const json& jworkloads) {
  std::string md;
  md += "\n### Scaling from 1 to 2 threads\n\n";
  md +=
      "Wall speedup as measured; cores obtained = CPU time / wall time of the 2-thread run "
      "(2.0 on an idle machine); work efficiency = CPU time of 1 thread / CPU time of 2 "
      "threads; 2 x efficiency estimates the speedup on two free cores.\n\n";
  md +=
      "| workload | run | wall speedup | cores obtained (1t, 2t) | work efficiency | "
      "estimate on 2 free cores |\n";
  md += "|---|---|---:|---:|---:|---:|\n";
  for (const json& w : jworkloads) {
    for (const auto& [key, label] : std::vector<std::pair<std::string, std::string>>{
             {"engine_lmder", "engine lmder"},
             {"engine_lmdif", "engine lmdif"},
             {"loop_lmder_std_thread", "lmder loop, std::thread"}}) {
      const json& s = w["scaling_1_to_2_threads"];
      if (!s.contains(key)) continue;
      const json& v = s[key];
      md += "| " + w["name"].get<std::string>() + " | " + label + " | " +
            fmt("%.2fx", v["wall_speedup"].get<double>()) + " | " +
            fmt("%.2f", v["cores_obtained_1t"].get<double>()) + ", " +
            fmt("%.2f", v["cores_obtained_2t"].get<double>()) + " | " +
            fmt("%.3f", v["work_efficiency"].get<double>()) + " | " +
            fmt("%.2fx", v["speedup_on_2_free_cores_estimate"].get<double>()) + " |\n";
    }
  }
  md += "\n### `lmbatch fit` (HDF5 -> HDF5) against the in-memory engine, 1 thread\n\n";
  md +=
      "Same problems, same options (x0 and x from the file); the input is chunked and "
      "deflate-compressed as `lmbatch generate` writes it, the output as `lmbatch fit` "
      "writes it. CPU: the child's user + system time against the engine run's; wall: "
      "the whole process (start, read, solve, write, close) against `batch::fit`. One problem: "
      "the same command with `--part 0/N`, the costs that do not grow with the problems "
      "(start-up, opening and creating the files, closing); what the rest of the CPU time adds "
      "to the engine's is the per-problem overhead (reading, inflating, writing).\n\n";
  md +=
      "| workload | CPU overhead | wall overhead | `lmbatch fit` CPU / wall | engine CPU / wall | "
      "one problem: CPU | per-problem CPU overhead | "
      "results = engine | peak RSS `lmbatch fit` | peak RSS, harness during engine run |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const json& w : jworkloads) {
    const json& f = w["lmbatch_fit"];
    const json& er = w["engine_lmder_1t_rss_kib"];
    std::string erss = "-";
    if (er["peak"].get<long>() > 0)
      erss = fmt("%.0f MiB", er["peak"].get<double>() / 1024.0) + " (" +
             fmt("%.0f MiB", er["before"].get<double>() / 1024.0) + " before the run)";
    if (f.value("ran", false) && f.value("exit_status", -1) == 0) {
      md += "| " + w["name"].get<std::string>() + " | " +
            fmt("%+.1f %%", f["io_overhead_percent_cpu"].get<double>()) + " | " +
            fmt("%+.1f %%", f["io_overhead_percent_wall"].get<double>()) + " | " +
            fmt("%.2f", f["cpu_seconds"].get<double>()) + " / " +
            fmt("%.2f s", f["wall_seconds"].get<double>()) + " | " +
            fmt("%.2f", f["engine_cpu_seconds"].get<double>()) + " / " +
            fmt("%.2f s", f["engine_wall_seconds"].get<double>()) + " | " +
            fmt("%.3f s", f.value("one_problem_cpu_seconds", 0.0)) + " | " +
            fmt("%+.1f %%", f.value("per_problem_overhead_percent_cpu", 0.0)) + " | " +
            fmt_count(f["results_identical_to_engine"].get<std::size_t>(),
                      f["compared"].get<std::size_t>()) +
            " | " + fmt("%.0f MiB", f["max_rss_kib"].get<double>() / 1024.0) + " | " + erss +
            " |\n";
    } else {
      md += "| " + w["name"].get<std::string>() + " | " + f.value("note", std::string("-")) +
            " | | | | | | | | " + erss + " |\n";
    }
  }
  return md;
}

std::string targets_table(const json& jworkloads) {
  // The targets, reported against (never asserted).
  std::string md = "\n### Targets (issue 4), as measured\n\n";
  md +=
      "| workload | lmbatch lmder vs cminpack lmder (>= 5x) | identical ier/nfev/njev to "
      "cminpack lmder | lmbatch lmder vs floor (<= 1.3x) | engine lmder 1->2 threads "
      "(>= 1.9x): wall / estimate on 2 free cores | `lmbatch fit` vs engine (<= +10 %): "
      "CPU / wall / per-problem CPU |\n";
  md += "|---|---:|---:|---:|---:|---:|\n";
  for (const json& w : jworkloads) {
    std::string speed = "-", floor = "-", same = "-", scale = "-", io = "-";
    for (const json& p : w["peers"])
      if (p["key"] == "lmbatch_lmder_loop") {
        speed = fmt_ratio(p["vs_cminpack_lmder"].get<double>());
        floor = fmt_ratio(p["vs_floor"].get<double>());
      }
    if (w["agreement"].contains("lmbatch lmder vs cminpack lmder")) {
      const json& ag = w["agreement"]["lmbatch lmder vs cminpack lmder"];
      same =
          fmt_count(ag["ier_nfev_njev_same"].get<std::size_t>(), ag["compared"].get<std::size_t>());
    }
    if (w["scaling_1_to_2_threads"].contains("engine_lmder")) {
      const json& v = w["scaling_1_to_2_threads"]["engine_lmder"];
      scale = fmt("%.2fx", v["wall_speedup"].get<double>()) + " / " +
              fmt("%.2fx", v["speedup_on_2_free_cores_estimate"].get<double>());
    }
    const json& f = w["lmbatch_fit"];
    if (f.value("ran", false) && f.value("exit_status", -1) == 0)
      io = fmt("%+.1f %%", f["io_overhead_percent_cpu"].get<double>()) + " / " +
           fmt("%+.1f %%", f["io_overhead_percent_wall"].get<double>()) + " / " +
           fmt("%+.1f %%", f.value("per_problem_overhead_percent_cpu", 0.0));
    md += "| " + w["name"].get<std::string>() + " | " + speed + " | " + same + " | " + floor +
          " | " + scale + " | " + io + " |\n";
  }
  return md;
}

int cmd_run(const Args& a) {
  json root;
  root["generated"] = iso_now();
  root["label"] = a.label;
  utsname u{};
  uname(&u);
  root["host"] = {
      {"cpu", cpu_model()},
      {"hardware_threads", std::thread::hardware_concurrency()},
      {"simd_lanes", std::string(lmbatch::simd::target_name(lmbatch::simd::chosen_target())) +
                         " x" + std::to_string(lmbatch::simd::lane_width())},
      {"kernel", std::string(u.release)},
      {"load_average_start", load_average()}};
  root["build"] = {{"compiler", __VERSION__}, {"flags", LMBATCH_BENCH_CXX_FLAGS}};
  root["settings"] = {
      {"ftol", kFtol},
      {"xtol", kXtol},
      {"gtol", kGtol},
      {"maxfev", "100(n+1) with a Jacobian, 200(n+1) forward (scipy's defaults)"},
      {"factor", kFactor},
      {"epsfcn", "0 (machine epsilon)"},
      {"eigen", "setFtol(ftol) setXtol(xtol) setGtol(0) setFactor(100) setMaxfev(100(n+1))"},
      {"ceres_tiny_solver",
       "parameter_tolerance = xtol, function_tolerance = ftol*(m-n)*noise^2, gradient_tolerance = "
       "0, cost_threshold = 0, max_num_iterations = 100(n+1)"},
      {"repetitions", a.reps},
      {"blocks", a.blocks},
      {"timing",
       "problems cut into blocks; each repetition runs every block through every peer in turn "
       "(the engine peers: all problems in one batch::fit call, in the first block's turn); a "
       "peer's time is the sum over blocks of its best (minimum) time; CPU time (thread or "
       "process clock) for rates and ratios, wall time for scaling"}};
  root["missing_peers"] = missing_peers();

  std::string md;
  json jworkloads = json::array();
  for (int id : a.workloads) jworkloads.push_back(run_workload(a, id, md));
  root["workloads"] = jworkloads;
  root["host"]["load_average_end"] = load_average();

  std::string head = "## Results";
  if (!a.label.empty()) head += " (" + a.label + ")";
  head += "\n\n" + root["generated"].get<std::string>() + ", " + cpu_model() + ", " +
          std::to_string(std::thread::hardware_concurrency()) + " hardware threads, SIMD lanes " +
          root["host"]["simd_lanes"].get<std::string>() + ", load average " +
          root["host"]["load_average_start"].dump() + " at start, " +
          root["host"]["load_average_end"].dump() + " at end; best of " + std::to_string(a.reps) +
          " repetitions, interleaved in up to " + std::to_string(a.blocks) +
          " blocks of at least 500 problems (a peer's time: the sum over blocks of its best "
          "time; the engine runs on all problems at once, in the first block's turn; CPU time, "
          "wall time in the JSON).\n";
  for (const auto& m : missing_peers()) head += "\nSkipped: " + m + "\n";
  head +=
      "\nfits/s per core: problems / best CPU time (the thread's for single-threaded peers, "
      "the process's for threaded ones). *: floor from the measured "
      "per-call costs of the model and the Jacobian times this peer's own counts (the "
      "lmbatch rows without * are measured directly). ier = scipy: identical ier on the "
      "first problems that scipy_loop.py ran (tiny_solver: success vs ier 1-4). Worst rel. "
      "x diff: max over parameters and over problems where both converged.\n";
  const std::string full = head + lanes_targets_table(jworkloads) + targets_table(jworkloads) + md +
                           summary_tables(jworkloads);
  std::cout << full;
  if (!a.md_out.empty()) {
    std::ofstream out(a.md_out);
    out << full;
  }
  if (!a.json_out.empty()) {
    std::ofstream out(a.json_out);
    out << root.dump(1) << "\n";
  }
  return 0;
}

int cmd_profile(const Args& a) {
  const Workload w = generate_workload(a.workload, a.problems, a.seed);
  if (a.peer == "floor" || a.peer == "floor_lmdif") {
    // The floor needs the solver's counts: lmbatch's loop first, then run_floor
    // (a profiler separates the two by function).
    const bool analytic = a.peer == "floor";
    for (const PeerInfo& p : lmbatch_peers()) {
      if (p.key != (analytic ? "lmbatch_lmder_loop" : "lmbatch_lmdif_loop")) continue;
      PeerResult r;
      r.resize(w.count, w.n);
      p.run(w, 0, w.count, r);
      for (int rep = 0; rep < a.reps; ++rep) {
        const FloorTimes t = run_floor(w, 0, w.count, r.nfev, r.njev);
        std::printf(
            "floor (%s counts) on %s: %zu problems, cpu %.3f s (%lld residual and %lld "
            "Jacobian evaluations)\n",
            analytic ? "lmder" : "lmdif", w.name.c_str(), w.count, t.total(), t.residual_calls,
            t.jacobian_calls);
      }
    }
    return 0;
  }
  for (const PeerInfo& p : all_peers()) {
    if (p.key != a.peer) continue;
    for (int rep = 0; rep < a.reps; ++rep) {
      PeerResult r;
      r.resize(w.count, w.n);
      const Times t = p.run(w, 0, w.count, r);
      double nf = 0;
      int converged = 0;
      for (int v : r.nfev) nf += v;
      for (auto v : r.success) converged += v;
      std::printf(
          "%s on %s: %zu problems, wall %.3f s, cpu %.3f s (%.0f fits/s per core), mean nfev "
          "%.2f, converged %d\n",
          p.name.c_str(), w.name.c_str(), w.count, t.wall, t.process_cpu,
          static_cast<double>(w.count) / t.process_cpu, nf / static_cast<double>(w.count),
          converged);
    }
    return 0;
  }
  usage("no peer " + a.peer);
}

}  // namespace
}  // namespace lmbatch::bench

int main(int argc, char** argv) {
  using namespace lmbatch::bench;
  const Args a = parse(argc, argv);
  try {
    if (a.command == "generate") return cmd_generate(a);
    if (a.command == "run") return cmd_run(a);
    if (a.command == "profile") return cmd_profile(a);
  } catch (const std::exception& e) {
    std::cerr << "lmbatch_bench: " << e.what() << "\n";
    return 1;
  }
  usage("unknown command " + a.command);
}
