// lmbatch generate OUT.h5 --model M (--count N | --shape H,W) --samples m:
// synthetic problems with known truth, seeded, written in blocks (memory stays
// bounded for files of any size).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>

#include "commands.hpp"
#include "lmbatch/io/problem_writer.hpp"
#include "lmbatch/models/model.hpp"

namespace lmbatch::app {
namespace {

struct GenerateArgs {
  std::string output, model;
  unsigned long long count = 0;
  std::vector<unsigned long long> shape;
  int samples = 128;
  double noise = 0.02;
  std::uint64_t seed = 1;
  bool float32 = false, overwrite = false;
};

// One term of the specification with its repeat index, for truth sampling.
struct TermUse {
  const models::Term* term;
  int repeat_index, repeats;
};

// The catalogue terms of a parsed model's spec() ("gaussian*3+linear"), in
// order, each copy of a repeated term with its index.
std::vector<TermUse> term_uses(const std::string& spec) {
  std::vector<TermUse> uses;
  std::size_t begin = 0;
  while (begin <= spec.size()) {
    const std::size_t plus = std::min(spec.find('+', begin), spec.size());
    const std::string part = spec.substr(begin, plus - begin);
    const std::size_t star = part.find('*');
    const std::string name = part.substr(0, star);
    const int repeats = star == std::string::npos ? 1 : std::stoi(part.substr(star + 1));
    const models::Term* term = models::find_term(name);
    if (!term || !term->truth)
      throw std::invalid_argument("generate: no truth ranges for term " + name);
    for (int r = 0; r < repeats; ++r) uses.push_back({term, r, repeats});
    begin = plus + 1;
  }
  return uses;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int run_generate(const GenerateArgs& a) {
  // Truth is sampled per catalogue term (plausible ranges for peaks, decays
  // and baselines); an expression or plugin has no such ranges.
  if (a.model.find("expr") != std::string::npos)
    throw std::invalid_argument(
        "generate: only catalogue models (see `lmbatch models`) can be generated; expressions "
        "have no known parameter ranges");
  const models::Model model = models::Model::parse(a.model);
  const int n = model.n_params(), m = a.samples;
  if (m < 1) throw std::invalid_argument("--samples must be >= 1");
  if (!(a.noise >= 0.0) || !std::isfinite(a.noise))
    throw std::invalid_argument("--noise must be >= 0");
  std::vector<std::size_t> leading = a.shape.empty()
                                         ? std::vector<std::size_t>{a.count}
                                         : std::vector<std::size_t>(a.shape.begin(), a.shape.end());
  std::size_t total = 1;
  for (auto d : leading) total *= d;
  const auto uses = term_uses(model.spec());
  std::vector<double> x(static_cast<std::size_t>(m));
  for (int i = 0; i < m; ++i) x[static_cast<std::size_t>(i)] = i;
  io::ProblemFileSpec spec;
  spec.path = a.output;
  spec.overwrite = a.overwrite;
  spec.leading_shape.assign(leading.begin(), leading.end());
  spec.m = m;
  spec.n = n;
  spec.y_float32 = a.float32;
  spec.x = x;
  spec.string_attributes = {{"model", model.spec()}};
  spec.string_array_attributes = {{"parameter_names", model.parameter_names()}};
  spec.number_attributes = {{"noise", a.noise}};
  if (a.seed <= static_cast<std::uint64_t>(std::numeric_limits<long long>::max()))
    spec.integer_attributes = {{"seed", static_cast<long long>(a.seed)}};
  else  // past int64: exact as text rather than rounded to a double
    spec.string_attributes.emplace_back("seed", std::to_string(a.seed));
  io::ProblemFileWriter file(std::move(spec));

  // Blocks of whole rows (2-D: rows of the image; 1-D: single problems) of
  // about 4096 problems.
  const bool image = leading.size() == 2;
  const std::size_t row = image ? leading[1] : 1;
  const std::size_t rows_per_block = std::max<std::size_t>(1, 4096 / std::max<std::size_t>(row, 1));
  const std::size_t block_rows_total = image ? leading[0] : total;
  std::vector<double> yb, tb, f(static_cast<std::size_t>(m));
  int most_draws = 0;
  for (const auto& use : uses) most_draws = std::max(most_draws, use.term->truth_draws);
  std::vector<double> draws(static_cast<std::size_t>(most_draws));
  const double span = std::max(1.0, static_cast<double>(m - 1));
  for (std::size_t r0 = 0; r0 < block_rows_total; r0 += rows_per_block) {
    const std::size_t rows = std::min(rows_per_block, block_rows_total - r0);
    const std::size_t problems = rows * row, first = r0 * row;
    yb.resize(problems * m);
    tb.resize(problems * n);
    for (std::size_t k = 0; k < problems; ++k) {
      std::mt19937_64 rng(splitmix64(a.seed ^ splitmix64(first + k)));
      std::uniform_real_distribution<double> u(0.0, 1.0);
      double* p = tb.data() + k * n;
      int offset = 0;
      for (const auto& use : uses) {
        // The term's own ranges (Term::truth), from its uniforms drawn in order.
        for (int j = 0; j < use.term->truth_draws; ++j) draws[static_cast<std::size_t>(j)] = u(rng);
        const models::TruthSlot slot{span, use.repeat_index, use.repeats};
        const auto n_term = use.term->parameters.size();
        use.term->truth(
            slot,
            std::span<const double>(draws.data(), static_cast<std::size_t>(use.term->truth_draws)),
            std::span<double>(p + offset, n_term));
        offset += static_cast<int>(n_term);
      }
      model.value(std::span<const double>(p, n), x, f);
      std::normal_distribution<double> noise(0.0, a.noise > 0 ? a.noise : 1.0);
      for (int i = 0; i < m; ++i) yb[k * m + i] = f[i] + (a.noise > 0 ? noise(rng) : 0.0);
    }
    file.write(first, yb, tb);
  }
  file.finish();
  spdlog::info("wrote {}: {} problems of {} samples, model {}, noise {}, seed {} (truth in /truth)",
               a.output, total, m, model.spec(), a.noise, a.seed);
  return kExitOk;
}

}  // namespace

Run add_generate_command(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* gen = app.add_subcommand("generate", "write synthetic problems with known truth");
  gen->add_option("output", args->output, "HDF5 file to write")->required();
  gen->add_option("-m,--model", args->model, "model, e.g. gaussian+linear")->required();
  auto* count = gen->add_option("-n,--count", args->count, "number of problems (a list)");
  auto* shape = gen->add_option("--shape", args->shape, "an image of problems: H,W")
                    ->delimiter(',')
                    ->expected(2);
  count->excludes(shape);
  gen->add_option("-s,--samples", args->samples, "samples per problem")->capture_default_str();
  gen->add_option("--noise", args->noise, "standard deviation of the added Gaussian noise")
      ->capture_default_str();
  gen->add_option("--seed", args->seed, "random seed")->capture_default_str();
  gen->add_flag("--float32", args->float32, "store y as float32 (default float64)");
  gen->add_flag("--overwrite", args->overwrite, "replace an existing file");
  return [args] {
    if (args->shape.empty() && args->count == 0)
      throw std::invalid_argument("generate: give --count N or --shape H,W");
    return run_generate(*args);
  };
}

}  // namespace lmbatch::app
