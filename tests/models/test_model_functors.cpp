// The catalogue is written against the template model interface: every
// catalogue term is a functor (EstimatingTermFunctor, engine/models/
// term_support.hpp), and its Term entry, the functor called directly and
// Model::from_functor wrapping the functor give the same bits for values,
// Jacobians and starting values.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "../support/check.hpp"
#include "lmbatch/models/model.hpp"
#include "term_support.hpp"  // internal to engine/models: the catalogue's functors

using lmbatch::models::catalogue;
using lmbatch::models::EstimatingTermFunctor;
using lmbatch::models::find_term;
using lmbatch::models::Model;
using lmbatch::models::Term;
namespace detail = lmbatch::models::detail;

using lmbatch::test::same_bits;
namespace {

template <class F>
struct Entry {
  using Functor = F;
  std::string_view name;
};

// Every catalogue term with its functor type.
const auto kFunctors = std::make_tuple(
    Entry<detail::Gaussian>{"gaussian"}, Entry<detail::Lorentzian>{"lorentzian"},
    Entry<detail::PseudoVoigt>{"pseudo_voigt"}, Entry<detail::Exponential>{"exponential"},
    Entry<detail::Constant>{"constant"}, Entry<detail::Linear>{"linear"},
    Entry<detail::Polynomial<2>>{"poly2"}, Entry<detail::Polynomial<3>>{"poly3"},
    Entry<detail::Polynomial<4>>{"poly4"}, Entry<detail::Polynomial<5>>{"poly5"});

template <class Visit>
void for_each_functor(const Visit& visit) {
  std::apply([&](const auto&... entry) { (visit(entry), ...); }, kFunctors);
}

// Bit for bit (NaN payloads and the sign of zero included).
// Sample sets: a regular grid through 0, an unsorted irregular one, and a
// few samples only.
std::vector<std::vector<double>> sample_sets() {
  std::vector<double> grid, scattered;
  for (int i = 0; i < 41; ++i) grid.push_back(-3.0 + 0.15 * i);
  for (int i = 0; i < 29; ++i) scattered.push_back(4.0 * std::sin(1.7 * i + 0.3));
  return {grid, scattered, {0.1, -0.7, 2.3}};
}

// Parameter sets for a term with n parameters: typical, negative and mixed
// values, all widths and decay constants (p[1], p[2]) nonzero.
std::vector<std::vector<double>> parameter_sets(std::size_t n) {
  const std::vector<std::vector<double>> base = {
      {2.5, 0.3, 0.9, 0.4, -0.2, 0.05},
      {-1.25, -1.1, 0.35, 0.0, 0.7, -0.03},
      {0.7, 2.0, 3.1, 1.0, 0.1, 0.2},
  };
  std::vector<std::vector<double>> sets;
  for (const auto& p : base)
    sets.emplace_back(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n));
  return sets;
}

std::vector<std::string> names_of(const Term& term) {
  return {term.parameters.begin(), term.parameters.end()};
}

// y for the starting-value check: a peak, a decay and a tilted background.
std::vector<double> some_data(const std::vector<double>& x) {
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    y[i] = 3.0 * std::exp(-2.0 * (x[i] - 0.4) * (x[i] - 0.4)) + 0.8 * std::exp(-x[i] / 2.5) + 0.2 -
           0.05 * x[i];
  return y;
}

}  // namespace

TEST_CASE("every catalogue term has a functor of the template interface", "[models][functor]") {
  std::set<std::string> with_functor;
  for_each_functor([&](const auto& entry) {
    using F = typename std::decay_t<decltype(entry)>::Functor;
    static_assert(EstimatingTermFunctor<F>);
    with_functor.insert(std::string(entry.name));
  });
  std::set<std::string> in_catalogue;
  for (const Term& term : catalogue()) in_catalogue.insert(std::string(term.name));
  CHECK(with_functor == in_catalogue);
}

TEST_CASE("catalogue terms: Term entry, functor and Model::from_functor give the same bits",
          "[models][functor]") {
  for_each_functor([](const auto& entry) {
    using F = typename std::decay_t<decltype(entry)>::Functor;
    const Term* term = find_term(entry.name);
    REQUIRE(term != nullptr);
    const std::size_t n = term->parameters.size();
    const F functor{};
    const Model wrapped =
        Model::from_functor(std::string(entry.name), names_of(*term), F{}, term->is_baseline);
    const Model parsed = Model::parse(entry.name);
    CHECK(wrapped.parameter_names() == parsed.parameter_names());
    for (const auto& x : sample_sets()) {
      const std::size_t m = x.size();
      for (const auto& p : parameter_sets(n)) {
        INFO(entry.name << ", m = " << m << ", p[0] = " << p[0]);
        // Values: accumulated onto the same nonzero f, and from zero by Model::value.
        std::vector<double> f_term(m), f_functor(m), f_wrapped(m, NAN), f_parsed(m, NAN);
        for (std::size_t i = 0; i < m; ++i)
          f_term[i] = f_functor[i] = 0.5 + 0.01 * static_cast<double>(i);
        term->accumulate(p, x, f_term);
        functor.accumulate(p, x, f_functor);
        CHECK(same_bits(f_term, f_functor));
        std::vector<double> g_term(m, 0.0), g_functor(m, 0.0);
        term->accumulate(p, x, g_term);
        functor.accumulate(p, x, g_functor);
        wrapped.value(p, x, f_wrapped);
        parsed.value(p, x, f_parsed);
        CHECK(same_bits(g_term, g_functor));
        CHECK(same_bits(g_term, f_wrapped));
        CHECK(same_bits(g_term, f_parsed));

        // Jacobians: with a leading dimension beyond m, and as Model's m x n.
        const int ld = static_cast<int>(m) + 3;
        std::vector<double> j_term(static_cast<std::size_t>(ld) * n, -7.0), j_functor = j_term;
        term->jacobian(p, x, j_term.data(), ld);
        functor.jacobian(p, x, j_functor.data(), ld);
        CHECK(same_bits(j_term, j_functor));
        std::vector<double> j_wrapped(m * n, NAN), j_parsed(m * n, NAN);
        wrapped.jacobian(p, x, j_wrapped);
        parsed.jacobian(p, x, j_parsed);
        CHECK(same_bits(j_wrapped, j_parsed));
        bool columns_match = true;  // Model's columns are the entry's first m rows
        for (std::size_t k = 0; k < n; ++k)
          columns_match = columns_match &&
                          std::memcmp(&j_wrapped[k * m], &j_term[k * static_cast<std::size_t>(ld)],
                                      m * sizeof(double)) == 0;
        CHECK(columns_match);
      }

      // Starting values, and what they leave of the data.
      const std::vector<double> y = some_data(x);
      std::vector<double> r_term = y, r_functor = y, p_term(n, NAN), p_functor(n, NAN);
      term->estimate(x, r_term, p_term);
      functor.estimate(x, r_functor, p_functor);
      CHECK(same_bits(p_term, p_functor));
      CHECK(same_bits(r_term, r_functor));
      std::vector<double> p_wrapped(n, NAN), p_parsed(n, NAN), scratch(m);
      REQUIRE(wrapped.can_estimate());
      wrapped.estimate(x, y, p_wrapped, scratch);
      parsed.estimate(x, y, p_parsed, scratch);
      CHECK(same_bits(p_term, p_wrapped));
      // A catalogue peak or decay in a parsed model is estimated jointly
      // (engine/models/estimate.cpp), not by its Term::estimate alone.
      if (term->from_peak == nullptr && term->from_decay == nullptr)
        CHECK(same_bits(p_term, p_parsed));
    }
  });
}

TEST_CASE("a model of every catalogue term equals the sum of its functors", "[models][functor]") {
  // Baselines are estimated first in both (is_baseline passed on), each term
  // from what the others leave.
  std::string spec;
  std::optional<Model> sum;
  for_each_functor([&](const auto& entry) {
    using F = typename std::decay_t<decltype(entry)>::Functor;
    const Term* term = find_term(entry.name);
    REQUIRE(term != nullptr);
    const Model one =
        Model::from_functor(std::string(entry.name), names_of(*term), F{}, term->is_baseline);
    spec += (sum ? "+" : "") + std::string(entry.name);
    sum = sum ? *sum + one : one;
  });
  const Model parsed = Model::parse(spec);
  REQUIRE(sum->spec() == parsed.spec());
  REQUIRE(sum->parameter_names() == parsed.parameter_names());
  const auto n = static_cast<std::size_t>(parsed.n_params());
  for (const auto& x : sample_sets()) {
    const std::size_t m = x.size();
    const std::vector<double> y = some_data(x);
    std::vector<double> p_sum(n, NAN), p_parsed(n, NAN), scratch(m);
    sum->estimate(x, y, p_sum, scratch);
    parsed.estimate(x, y, p_parsed, scratch);
    CHECK(same_bits(p_sum, p_parsed));
    std::vector<double> f_sum(m), f_parsed(m), j_sum(m * n), j_parsed(m * n);
    sum->value(p_parsed, x, f_sum);
    parsed.value(p_parsed, x, f_parsed);
    CHECK(same_bits(f_sum, f_parsed));
    sum->jacobian(p_parsed, x, j_sum);
    parsed.jacobian(p_parsed, x, j_parsed);
    CHECK(same_bits(j_sum, j_parsed));
  }
}
