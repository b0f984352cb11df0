// The catalogue: every term, in the stable order listed by catalogue().
#include <array>

#include "term_support.hpp"

namespace lmbatch::models {

std::span<const Term> catalogue() {
  // Peaks, then decays, then baselines by increasing degree.
  static const std::array<Term, 10> terms = {
      detail::gaussian_term(),    detail::lorentzian_term(), detail::pseudo_voigt_term(),
      detail::exponential_term(), detail::constant_term(),   detail::linear_term(),
      detail::poly2_term(),       detail::poly3_term(),      detail::poly4_term(),
      detail::poly5_term(),
  };
  return terms;
}

const Term* find_term(std::string_view name) {
  for (const Term& term : catalogue())
    if (term.name == name) return &term;
  return nullptr;
}

}  // namespace lmbatch::models
