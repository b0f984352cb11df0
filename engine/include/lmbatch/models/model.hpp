// The model catalogue: f(x; p) over all samples at once, with its analytic
// Jacobian, parameter names and a starting-value estimate from the data.
//
// A catalogue entry (Term) is one file in engine/models/. A Model is a sum of
// terms parsed from a specification such as "gaussian*3+linear": `+` adds
// terms, `*k` repeats one; the parameters are the terms' parameters in order.
// Evaluation is array-at-a-time (one call per term per evaluation, never per
// sample) and allocates nothing.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmbatch::models {

// One catalogue entry. All functions see the term's own parameters only.
struct Term {
  std::string_view name;                     // e.g. "gaussian"
  std::string_view formula;                  // e.g. "amplitude*exp(-(x-center)^2/(2*sigma^2))"
  std::vector<std::string_view> parameters;  // names, in parameter order
  // f[i] += term(x[i]; p) for every sample i.
  void (*accumulate)(std::span<const double> p, std::span<const double> x, std::span<double> f);
  // jac[i + k*ld] = d term(x[i]; p) / d p_k for k < parameters.size()
  // (column-major, one column per parameter; overwritten, not accumulated).
  void (*jacobian)(std::span<const double> p, std::span<const double> x, double* jac, int ld);
  // Starting values from the data: `remaining` holds y minus the terms
  // estimated so far (the catalogue's estimators subtract their own
  // contribution from it, so a repeated term finds the next peak or decay),
  // x the sample positions (finite, as given; possibly unsorted, possibly
  // very few). Writes parameters.size() values to p: finite for finite data,
  // widths and decay constants > 0. Allocates nothing.
  void (*estimate)(std::span<const double> x, std::span<double> remaining, std::span<double> p);
  // Baseline terms (constant, linear, poly*) are estimated before peaks and
  // decays, whatever their position in the specification.
  bool is_baseline = false;
};

// The catalogue, in a stable order.
std::span<const Term> catalogue();
const Term* find_term(std::string_view name);  // nullptr if unknown

class Model {
 public:
  // Parses "term[*k][+term[*k]...]" (spaces allowed). Throws
  // std::invalid_argument naming the unknown term or the malformed part.
  static Model parse(std::string_view spec);

  // The specification as parsed, spaces removed (e.g. "gaussian*3+linear").
  const std::string& spec() const { return spec_; }
  int n_params() const { return n_params_; }
  // Parameter names; repeated terms get a 1-based suffix: "amplitude_1",
  // "center_1", ..., "amplitude_2", ...; unique names stay bare. The rule is
  // per name, so names shared by different terms are numbered as well
  // ("gaussian+lorentzian": amplitude_1, center_1, sigma, amplitude_2,
  // center_2, gamma) and every name in a model is unique.
  const std::vector<std::string>& parameter_names() const { return names_; }

  // f[i] = sum over terms of term(x[i]; p).
  void value(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  // Column-major m x n Jacobian of f (not of the residual): jac[i + k*m].
  void jacobian(std::span<const double> p, std::span<const double> x, std::span<double> jac) const;
  // Starting values from (x, y); scratch needs x.size() doubles. Baseline
  // terms are estimated first, then the others in specification order, each
  // from what the earlier ones leave of y. Allocates nothing; throws
  // std::invalid_argument if y, scratch or p is too short.
  void estimate(std::span<const double> x, std::span<const double> y, std::span<double> p,
                std::span<double> scratch) const;

 private:
  struct Use {
    const Term* term;
    int offset;  // index of its first parameter in p
  };
  std::string spec_;
  std::vector<Use> uses_;
  std::vector<std::string> names_;
  int n_params_ = 0;
};

}  // namespace lmbatch::models
