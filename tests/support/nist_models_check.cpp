// Print NIST residuals and Jacobians from the generated C++ models (nist_models.cpp)
// in the format of nist_models_check.py, so that
//   ./nist_models_check [DATA_DIR] > cpp.txt
//   /usr/bin/python3 tests/support/nist_models_check.py [DATA_DIR] > py.txt
//   diff py.txt cpp.txt
// proves bitwise agreement with the scipy reference evaluation (empty diff).
// Build: g++ -std=c++20 -O2 -ffp-contract=off -Itests/support
//          tests/support/nist_models_check.cpp tests/support/nist_models.cpp
//
// Also (on stderr, not part of the diff): compares the residuals at scipy's final x
// with the fvec stored in each reference run, i.e. with the numbers the reference
// machine computed. Exit status 1 on any problem (unknown model, fvec mismatch).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nist_models.hpp"

using nlohmann::json;

namespace {

json load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(2);
  }
  return json::parse(in);
}

// JSON number, or "nan" / "inf" / "-inf" as written by nist_scipy.py's jnum().
double num(const json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::nan("");
    if (s == "inf") return HUGE_VAL;
    if (s == "-inf") return -HUGE_VAL;
    std::fprintf(stderr, "bad number %s\n", s.c_str());
    std::exit(2);
  }
  return v.get<double>();
}

std::vector<double> vec(const json& a) {
  std::vector<double> out;
  for (const auto& v : a) out.push_back(num(v));
  return out;
}

void put(double v) {
  if (std::isnan(v)) {
    std::fputs("nan\n", stdout);
  } else {
    std::printf("%.17g\n", v);
  }
}

bool same_bits(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string data = argc > 1 ? argv[1] : "tests/data/nist";
  const json index = load(data + "/index.json");
  int bad = 0;
  long fvec_checked = 0, fvec_diff = 0;
  struct Point {
    const char* label;
    const char* start;
    const char* method;
  };
  const Point points[] = {{"start1", nullptr, nullptr},     {"start2", nullptr, nullptr},
                          {"start1_an_x", "start1", "an"}, {"start1_fd_x", "start1", "fd"},
                          {"start2_an_x", "start2", "an"}, {"start2_fd_x", "start2", "fd"}};
  for (const auto& item : index) {
    const std::string name = item.at("name").get<std::string>();
    const lmbatch::test::NistModel* model = lmbatch::test::find_nist_model(name.c_str());
    if (model == nullptr) {
      std::fprintf(stderr, "no model for %s\n", name.c_str());
      ++bad;
      continue;
    }
    const json d = load(data + "/" + name + ".json");
    const int n = model->n_params;
    if (n != d.at("n_parameters").get<int>()) {
      std::fprintf(stderr, "%s: n_params mismatch\n", name.c_str());
      ++bad;
    }
    std::vector<double> x1, x2;
    if (d.contains("x1")) {
      x1 = vec(d.at("x1"));
      x2 = vec(d.at("x2"));
    } else {
      x1 = vec(d.at("x"));
    }
    const std::vector<double> y = vec(d.at("y"));
    const int m = static_cast<int>(y.size());
    const double* px2 = x2.empty() ? nullptr : x2.data();
    std::vector<double> r(m), J(static_cast<size_t>(m) * n);
    for (const Point& p : points) {
      std::vector<double> b;
      json ref;
      if (p.start == nullptr) {
        b = vec(d.at(p.label));
      } else {
        ref = load(data + "/scipy_ref/" + name + "_" + p.start + "_" + p.method + ".json");
        b = vec(ref.at("x"));
      }
      model->residuals(b.data(), m, x1.data(), px2, y.data(), r.data());
      model->jacobian(b.data(), m, x1.data(), px2, y.data(), J.data());
      for (int i = 0; i < m; ++i) {
        std::printf("%s %s r %d ", name.c_str(), p.label, i);
        put(r[i]);
      }
      for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) {
          std::printf("%s %s J %d %d ", name.c_str(), p.label, i, j);
          put(J[static_cast<size_t>(i) * n + j]);
        }
      }
      if (p.start != nullptr) {
        const std::vector<double> fvec = vec(ref.at("fvec"));
        int diff = 0;
        for (int i = 0; i < m; ++i) diff += !same_bits(fvec[i], r[i]);
        fvec_checked += m;
        fvec_diff += diff;
        if (diff != 0) {
          std::fprintf(stderr, "%s %s: %d of %d residuals differ from the stored fvec\n",
                       name.c_str(), p.label, diff, m);
        }
      }
    }
  }
  std::fprintf(stderr, "models: %d bad; stored fvec at final x: %ld of %ld residuals differ\n",
               bad, fvec_diff, fvec_checked);
  return (bad != 0 || fvec_diff != 0) ? 1 : 0;
}
