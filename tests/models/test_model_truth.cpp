// Every catalogue term says how synthetic problems draw its true parameters
// (Term::truth, used by `lmbatch generate`): plausible, finite values from
// its uniforms, peaks placed in their copy's slot.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "lmbatch/models/model.hpp"

using lmbatch::models::catalogue;
using lmbatch::models::find_term;
using lmbatch::models::Term;
using lmbatch::models::TruthSlot;

namespace {

std::vector<double> truth(const Term& term, const TruthSlot& slot, double u) {
  const std::vector<double> draws(static_cast<std::size_t>(term.truth_draws), u);
  std::vector<double> p(term.parameters.size(), NAN);
  term.truth(slot, draws, p);
  return p;
}

}  // namespace

TEST_CASE("every catalogue term has truth ranges giving finite, plausible parameters",
          "[models][truth]") {
  for (const Term& term : catalogue()) {
    const std::string name(term.name);
    INFO(name);
    REQUIRE(term.truth != nullptr);
    // The first two draws place and size a peak; every term takes them.
    CHECK(term.truth_draws >= 2 + 1);
    for (const double u : {0.0, 0.5, 0.999999})
      for (const TruthSlot slot : {TruthSlot{127.0, 0, 1}, TruthSlot{63.0, 2, 3}}) {
        const auto p = truth(term, slot, u);
        for (const double v : p) CHECK(std::isfinite(v));
        if (name == "gaussian" || name == "lorentzian" || name == "pseudo_voigt") {
          const double segment = slot.span / slot.repeats;
          CHECK(p[1] >= segment * slot.repeat);  // the center in its copy's slot
          CHECK(p[1] <= segment * (slot.repeat + 1));
          CHECK(p[2] > 0.0);
        }
        if (name == "exponential") CHECK(p[1] > 0.0);
      }
  }
}

TEST_CASE("truth ranges are the ones lmbatch generate has always drawn", "[models][truth]") {
  // Pinned so that `lmbatch generate --seed S` keeps writing the same files.
  const TruthSlot second_of_two{100.0, 1, 2};
  const std::vector<double> u = {0.5, 0.25, 0.75, 0.5, 0.25, 0.75, 0.5, 0.25};
  auto draw = [&](const char* name) {
    const Term& term = *find_term(name);
    std::vector<double> p(term.parameters.size());
    term.truth(second_of_two, std::span<const double>(u.data(), term.truth_draws), p);
    return p;
  };
  // center = 50 (1 + 0.3 + 0.4 u0), width = 50 (0.04 + 0.03 u1), amplitude 1 + u2.
  CHECK(draw("gaussian") ==
        std::vector<double>{1.75, 50.0 * (1 + 0.3 + 0.4 * 0.5), 50.0 * (0.04 + 0.03 * 0.25)});
  CHECK(draw("pseudo_voigt") == std::vector<double>{1.75, 50.0 * (1 + 0.3 + 0.4 * 0.5),
                                                    2.3548 * (50.0 * (0.04 + 0.03 * 0.25)),
                                                    0.2 + 0.6 * 0.5});
  CHECK(draw("exponential") == std::vector<double>{1.75, 100.0 * (0.3 + 0.3 * 0.5 * 1)});
  CHECK(draw("linear") == std::vector<double>{0.05 + 0.15 * 0.75, (0.2 * 0.5 - 0.1) / 100.0});
  CHECK(draw("poly2") == std::vector<double>{0.05 + 0.15 * 0.75, (0.4 * 0.5 - 0.2) / 100.0,
                                             (0.4 * 0.25 - 0.2) / std::pow(100.0, 2)});
}
