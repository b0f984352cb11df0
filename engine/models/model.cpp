// Model: parsing of "term[*k][+term[*k]...]" and evaluation of the sum.
#include <algorithm>
#include <cassert>
#include <charconv>
#include <map>
#include <stdexcept>

#include "lmbatch/models/model.hpp"

namespace lmbatch::models {
namespace {

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string known_terms() {
  std::string list;
  for (const Term& term : catalogue()) {
    if (!list.empty()) list += ", ";
    list += term.name;
  }
  return list;
}

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// Repeats beyond this are surely a typo (and would make n_params huge).
constexpr int kMaxRepeat = 1000;

}  // namespace

Model Model::parse(std::string_view spec) {
  const std::string context = " in model specification " + quoted(spec);
  if (trim(spec).empty())
    throw std::invalid_argument(
        "empty model specification; expected terms joined by '+', e.g. "
        "\"gaussian+constant\" (known terms: " +
        known_terms() + ")");
  Model model;
  std::size_t begin = 0;
  for (int index = 1;; ++index) {
    const std::size_t plus = spec.find('+', begin);
    const std::string_view part =
        trim(spec.substr(begin, plus == std::string_view::npos ? spec.npos : plus - begin));
    const std::size_t star = part.find('*');
    const std::string_view name = trim(part.substr(0, star));
    if (name.empty())
      throw std::invalid_argument("empty term (term " + std::to_string(index) + ")" + context);
    const Term* term = find_term(name);
    if (term == nullptr)
      throw std::invalid_argument("unknown model term " + quoted(name) + context +
                                  "; known terms: " + known_terms());
    int repeat = 1;
    if (star != std::string_view::npos) {
      const std::string_view count = trim(part.substr(star + 1));
      const char* first = count.data();
      const char* last = count.data() + count.size();
      const bool digits_only =
          !count.empty() && std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; });
      const auto [end, error] = std::from_chars(first, last, repeat);
      if (!digits_only || error != std::errc() || end != last || repeat < 1 || repeat > kMaxRepeat)
        throw std::invalid_argument("bad repeat count " + quoted(count) + " for term " +
                                    quoted(name) + context + "; expected an integer from 1 to " +
                                    std::to_string(kMaxRepeat) + ", as in \"gaussian*3\"");
    }
    if (!model.spec_.empty()) model.spec_ += '+';
    model.spec_ += name;
    if (star != std::string_view::npos) model.spec_ += "*" + std::to_string(repeat);
    for (int r = 0; r < repeat; ++r) {
      model.uses_.push_back({term, model.n_params_});
      model.n_params_ += static_cast<int>(term->parameters.size());
    }
    if (plus == std::string_view::npos) break;
    begin = plus + 1;
  }

  // A parameter name that occurs more than once in the model (repeated
  // terms, or different terms sharing a name such as gaussian+lorentzian's
  // amplitude) is numbered 1, 2, ... in parameter order; a unique one stays
  // bare, so every name is unique.
  std::map<std::string_view, int> occurrences, seen;
  for (const Use& use : model.uses_)
    for (std::string_view name : use.term->parameters) ++occurrences[name];
  model.names_.reserve(static_cast<std::size_t>(model.n_params_));
  for (const Use& use : model.uses_) {
    for (std::string_view name : use.term->parameters) {
      std::string full(name);
      if (occurrences[name] > 1) full += "_" + std::to_string(++seen[name]);
      model.names_.push_back(std::move(full));
    }
  }
  return model;
}

void Model::value(std::span<const double> p, std::span<const double> x, std::span<double> f) const {
  assert(p.size() >= static_cast<std::size_t>(n_params_) && f.size() >= x.size());
  std::fill(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(x.size()), 0.0);
  for (const Use& use : uses_)
    use.term->accumulate(
        p.subspan(static_cast<std::size_t>(use.offset), use.term->parameters.size()), x, f);
}

void Model::jacobian(std::span<const double> p, std::span<const double> x,
                     std::span<double> jac) const {
  const auto m = static_cast<std::ptrdiff_t>(x.size());
  assert(p.size() >= static_cast<std::size_t>(n_params_) &&
         jac.size() >= x.size() * static_cast<std::size_t>(n_params_));
  for (const Use& use : uses_)
    use.term->jacobian(p.subspan(static_cast<std::size_t>(use.offset), use.term->parameters.size()),
                       x, jac.data() + use.offset * m, static_cast<int>(m));
}

void Model::estimate(std::span<const double> x, std::span<const double> y, std::span<double> p,
                     std::span<double> scratch) const {
  if (y.size() != x.size() || scratch.size() < x.size() ||
      p.size() < static_cast<std::size_t>(n_params_))
    throw std::invalid_argument(
        "Model::estimate: y must have x's size, scratch at least x's size, "
        "p at least n_params() values");
  const std::span<double> remaining = scratch.first(x.size());
  std::copy(y.begin(), y.end(), remaining.begin());
  // Baselines first, whatever their place in the specification, so that the
  // peak and decay estimators see the signal above the background; within
  // each group, specification order (repeats thus peel off one peak or decay
  // after another).
  for (const bool baselines : {true, false}) {
    for (const Use& use : uses_) {
      if (use.term->is_baseline != baselines) continue;
      use.term->estimate(
          x, remaining,
          p.subspan(static_cast<std::size_t>(use.offset), use.term->parameters.size()));
    }
  }
}

}  // namespace lmbatch::models
