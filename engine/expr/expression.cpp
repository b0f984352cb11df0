// Expression: parse, differentiate, compile; evaluate through the programs.
#include "lmbatch/expr/expression.hpp"

#include <algorithm>
#include <cassert>

#include "graph.hpp"

namespace lmbatch::expr {
namespace detail {

struct Compiled {
  std::string text;
  std::vector<std::string> parameters, variables;
  Graph graph;
  int root = -1;
  std::vector<int> derivative_roots;
  std::vector<std::string> sympy_texts;  // per parameter; "" for the chain rule
  Program value, jacobian;
};

}  // namespace detail

namespace {
// Deeper graphs would make differentiation (recursive) use too much stack.
constexpr int kMaxGraphDepth = 4000;
// Symbolic nodes one compilation may construct (sym.hpp's Budget).
constexpr long kSymBudget = 200000;
}  // namespace

Expression Expression::compile(std::string_view text, const CompileOptions& options) {
  auto c = std::make_shared<detail::Compiled>();
  c->text = std::string(text);
  c->variables = options.variables;
  if (c->variables.empty())
    throw Error("expression \"" + c->text + "\": no sample variable given", 0, "");
  detail::ParseOptions po;
  po.variables = &c->variables;
  if (!options.parameters.empty()) po.parameters = &options.parameters;
  po.build_sym = options.derivatives == CompileOptions::Derivatives::sympy_form;
  // The symbolic form is for model-sized expressions; past this much work
  // the chain rule takes over (same derivative, other rounding).
  const detail::sym::Budget budget(kSymBudget);
  const detail::Parsed parsed = detail::parse(text, po, c->graph);
  c->root = parsed.root;
  c->parameters = parsed.parameters;
  if (c->graph[c->root].depth > kMaxGraphDepth)
    throw Error("expression \"" + c->text + "\": too long a chain of operations (depth " +
                    std::to_string(c->graph[c->root].depth) + ", at most " +
                    std::to_string(kMaxGraphDepth) + ")",
                0, "");
  const int n = static_cast<int>(c->parameters.size());
  for (int k = 0; k < n; ++k) {
    int root = -1;
    std::string printed;
    if (parsed.sym) {
      // SymPy's derivative, printed as sympy would and compiled like any text.
      try {
        printed = detail::sym::str(detail::sym::diff(parsed.sym, c->parameters[static_cast<std::size_t>(k)]));
        detail::ParseOptions dpo;
        dpo.variables = &c->variables;
        dpo.parameters = &c->parameters;
        dpo.allow_unused = true;
        root = detail::parse(printed, dpo, c->graph).root;
      } catch (const detail::sym::Unsupported&) {
        root = -1;
      } catch (const Error&) {
        root = -1;
      }
    }
    if (root < 0) printed.clear();
    c->derivative_roots.push_back(root >= 0 ? root : c->graph.derivative(c->root, k));
    c->sympy_texts.push_back(printed);
  }
  c->value = detail::Program::build(c->graph, {c->root});
  c->jacobian = detail::Program::build(c->graph, c->derivative_roots);
  Expression e;
  e.impl_ = std::move(c);
  return e;
}

std::vector<std::string> Expression::free_names(std::string_view text,
                                                const std::vector<std::string>& variables) {
  return detail::free_names(text, variables);
}

const std::string& Expression::text() const { return impl_->text; }
const std::vector<std::string>& Expression::parameters() const { return impl_->parameters; }
const std::vector<std::string>& Expression::variables() const { return impl_->variables; }

void Expression::value(const double* p, const double* const* vars, std::size_t m,
                       double* f) const {
  impl_->value.run(p, vars, m,
                   [f](std::size_t, const double* v, int stride, std::size_t first, int count) {
                     double* out = f + first;
                     if (stride) {
                       std::copy(v, v + count, out);
                     } else {
                       std::fill(out, out + count, *v);
                     }
                   });
}

void Expression::jacobian(const double* p, const double* const* vars, std::size_t m, double* jac,
                          std::ptrdiff_t ld) const {
  if (m == 0) return;
  impl_->jacobian.run(
      p, vars, m,
      [jac, ld](std::size_t k, const double* v, int stride, std::size_t first, int count) {
        double* out = jac + static_cast<std::ptrdiff_t>(k) * ld + static_cast<std::ptrdiff_t>(first);
        if (stride) {
          std::copy(v, v + count, out);
        } else {
          std::fill(out, out + count, *v);
        }
      });
}

void Expression::value(std::span<const double> p, std::span<const double> x,
                       std::span<double> f) const {
  assert(impl_->variables.size() == 1 && f.size() >= x.size() &&
         p.size() >= parameters().size());
  const double* vars[1] = {x.data()};
  value(p.data(), vars, x.size(), f.data());
}

void Expression::accumulate(std::span<const double> p, std::span<const double> x,
                            std::span<double> f) const {
  assert(impl_->variables.size() == 1 && f.size() >= x.size() &&
         p.size() >= parameters().size());
  const double* vars[1] = {x.data()};
  accumulate(p.data(), vars, x.size(), f.data());
}

void Expression::accumulate(const double* p, const double* const* vars, std::size_t m,
                            double* f) const {
  impl_->value.run(p, vars, m,
                   [f](std::size_t, const double* v, int stride, std::size_t first, int count) {
                     double* out = f + first;
                     if (stride) {
                       for (int i = 0; i < count; ++i) out[i] += v[i];
                     } else {
                       const double s = *v;
                       for (int i = 0; i < count; ++i) out[i] += s;
                     }
                   });
}

void Expression::jacobian(std::span<const double> p, std::span<const double> x, double* jac,
                          std::ptrdiff_t ld) const {
  assert(impl_->variables.size() == 1 && p.size() >= parameters().size());
  const double* vars[1] = {x.data()};
  jacobian(p.data(), vars, x.size(), jac, ld);
}

std::string Expression::value_text() const {
  return impl_->graph.text(impl_->root, impl_->parameters, impl_->variables);
}

std::string Expression::derivative_text(int k) const {
  return impl_->graph.text(impl_->derivative_roots.at(static_cast<std::size_t>(k)),
                           impl_->parameters, impl_->variables);
}

const std::string& Expression::sympy_derivative(int k) const {
  return impl_->sympy_texts.at(static_cast<std::size_t>(k));
}

int Expression::value_instructions() const {
  return static_cast<int>(impl_->value.vector_code.size());
}
int Expression::jacobian_instructions() const {
  return static_cast<int>(impl_->jacobian.vector_code.size());
}

}  // namespace lmbatch::expr
