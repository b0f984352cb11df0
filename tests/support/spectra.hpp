// gaussian+constant spectra for the engine's tests, from one generator: each
// test says how its problems' parameters are drawn, the generator does the
// rest in one order (parameters, then the m noise draws, then the test's own
// touches), so a test's data stay the same bits whoever else uses it.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "lmbatch/batch/engine.hpp"

namespace lmbatch::test {

// One problem's truth for gaussian+constant: a exp(-((x - c) / s)^2 / 2) + b.
struct Peak {
  double a, c, s, b;
};

// Uniform draws in [0, 1) from the generator's engine.
class Uniform {
 public:
  explicit Uniform(std::mt19937_64& rng) : rng_(rng) {}
  double operator()() { return u_(rng_); }

 private:
  std::mt19937_64& rng_;
  std::uniform_real_distribution<double> u_{0.0, 1.0};
};

// count spectra of m samples on x = 0..m-1, row k at y[k m .. k m + m), with
// the truths in truth (4 per problem).
struct Spectra {
  int m = 0;
  std::size_t count = 0;
  std::vector<double> y, truth;

  batch::ArrayInput input() const {
    batch::ArrayInput in;
    in.y = y;
    in.count = count;
    in.m = m;
    return in;
  }
};

// draw(k, u) -> Peak for problem k; touch(k, row, u) may change row k after
// its noise (spikes, say).
template <class Draw, class Touch>
Spectra gaussian_spectra(std::size_t count, int m, unsigned seed, double noise_sd, Draw draw,
                         Touch touch) {
  Spectra data;
  data.m = m;
  data.count = count;
  data.y.resize(count * static_cast<std::size_t>(m));
  std::mt19937_64 rng(seed);
  Uniform u(rng);
  std::normal_distribution<double> noise(0.0, noise_sd);
  for (std::size_t k = 0; k < count; ++k) {
    const Peak p = draw(k, u);
    data.truth.insert(data.truth.end(), {p.a, p.c, p.s, p.b});
    double* row = data.y.data() + k * static_cast<std::size_t>(m);
    for (int i = 0; i < m; ++i) {
      const double d = (i - p.c) / p.s;
      row[i] = p.a * std::exp(-0.5 * d * d) + p.b + noise(rng);
    }
    touch(k, row, u);
  }
  return data;
}

template <class Draw>
Spectra gaussian_spectra(std::size_t count, int m, unsigned seed, double noise_sd, Draw draw) {
  return gaussian_spectra(count, m, seed, noise_sd, draw, [](std::size_t, double*, Uniform&) {});
}

// The usual draw: a in [1, 2), c in [20, 40), s in [3, 6), b in [0, 0.1).
inline Peak varied_peak(std::size_t, Uniform& u) {
  return Peak{1.0 + u(), 20.0 + 20.0 * u(), 3.0 + 3.0 * u(), 0.1 * u()};
}

}  // namespace lmbatch::test
