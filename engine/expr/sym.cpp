// SymPy's canonical form, derivative and str() for a subset of expressions
// (see sym.hpp). The references in the comments are to SymPy 1.14's sources:
// Add.flatten, Mul.flatten, Pow.__new__, Expr.sort_key, Expr.as_ordered_terms,
// StrPrinter._print_Add/_print_Mul/_print_Pow/_print_Float.
#include "sym.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>

namespace lmbatch::expr::detail::sym {
namespace {

[[noreturn]] void unsupported(const std::string& what) { throw Unsupported(what); }

constexpr std::int64_t kExactDoubleInteger = std::int64_t{1} << 53;

std::int64_t mul64(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r == INT64_MIN) unsupported("rational overflow");
  return r;
}
std::int64_t add64(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r) || r == INT64_MIN) unsupported("rational overflow");
  return r;
}
std::int64_t abs64(std::int64_t a) { return a < 0 ? -a : a; }

}  // namespace

// ---- numbers ----

Number Number::integer(std::int64_t v) { return rational(v, 1); }

Number Number::rational(std::int64_t p, std::int64_t q) {
  if (q == 0) unsupported("division by zero");
  if (p == INT64_MIN || q == INT64_MIN) unsupported("rational overflow");
  if (q < 0) {
    p = -p;
    q = -q;
  }
  const std::int64_t g = std::gcd(abs64(p), q);
  Number n;
  n.p = g ? p / g : 0;
  n.q = g ? q / g : 1;
  if (n.p == 0) n.q = 1;
  return n;
}

Number Number::real(double v) {
  if (!std::isfinite(v)) unsupported("non-finite number");
  Number n;
  n.is_float = true;
  n.f = v;
  return n;
}

int Number::sign() const {
  const double v = is_float ? f : static_cast<double>(p);
  return (v > 0) - (v < 0);
}

double Number::value() const {
  if (is_float) return f;
  if (p > kExactDoubleInteger || p < -kExactDoubleInteger || q > kExactDoubleInteger)
    unsupported("rational too large for a double");
  return static_cast<double>(p) / static_cast<double>(q);  // correctly rounded
}

namespace {

Number operator+(const Number& a, const Number& b) {
  if (a.is_float || b.is_float) return Number::real(a.value() + b.value());
  const std::int64_t g = std::gcd(a.q, b.q);
  return Number::rational(add64(mul64(a.p, b.q / g), mul64(b.p, a.q / g)), mul64(a.q, b.q / g));
}

Number operator*(const Number& a, const Number& b) {
  if (a.is_float || b.is_float) return Number::real(a.value() * b.value());
  const std::int64_t g1 = std::max<std::int64_t>(1, std::gcd(abs64(a.p), b.q));
  const std::int64_t g2 = std::max<std::int64_t>(1, std::gcd(abs64(b.p), a.q));
  return Number::rational(mul64(a.p / g1, b.p / g2), mul64(a.q / g2, b.q / g1));
}

Number operator-(const Number& a) {
  if (a.is_float) return Number::real(-a.f);
  return Number::rational(-a.p, a.q);
}

Number inverse(const Number& a) {
  if (a.is_zero()) unsupported("1/0");
  if (a.is_float) return Number::real(1.0 / a.f);
  return Number::rational(a.q, a.p);
}

// a**n for an integer n, where sympy's result is what double arithmetic gives.
Number power(const Number& a, std::int64_t n) {
  if (n == 0) return Number::integer(1);
  if (n == 1) return a;
  if (a.is_float) {
    if (n == 2) return Number::real(a.f * a.f);
    if (n == -1) return Number::real(1.0 / a.f);
    unsupported("Float power");
  }
  if (n < 0) return power(inverse(a), -n);
  if (n > 64) unsupported("large power");
  Number r = Number::integer(1);
  for (std::int64_t i = 0; i < n; ++i) r = r * a;
  return r;
}

// Same type and value (sympy's structural equality of numbers).
bool same(const Number& a, const Number& b) {
  if (a.is_float != b.is_float) return false;
  return a.is_float ? a.f == b.f : (a.p == b.p && a.q == b.q);
}

// Python's comparison of two sympy numbers (by value).
int compare_numbers(const Number& a, const Number& b) {
  if (!a.is_float && !b.is_float) {
    const std::int64_t l = mul64(a.p, b.q), r = mul64(b.p, a.q);
    return (l > r) - (l < r);
  }
  const double l = a.value(), r = b.value();
  return (l > r) - (l < r);
}

std::string number_id(const Number& n) {
  char buf[64];
  if (n.is_float) {
    std::snprintf(buf, sizeof buf, "F%a", n.f);
  } else {
    std::snprintf(buf, sizeof buf, "R%lld/%lld", static_cast<long long>(n.p),
                  static_cast<long long>(n.q));
  }
  return buf;
}

// ---- nodes ----

thread_local long g_budget = -1;  // nodes left to construct; < 0: unlimited

Expr make(Kind kind, Number number, std::string name, std::vector<Expr> args) {
  if (g_budget == 0) unsupported("expression too large for the symbolic form");
  if (g_budget > 0) --g_budget;
  auto n = std::make_shared<Node>();
  n->kind = kind;
  n->number = number;
  n->name = std::move(name);
  n->args = std::move(args);
  switch (kind) {
    case Kind::number: n->id = number_id(n->number); break;
    case Kind::symbol: n->id = "S:" + n->name; break;
    case Kind::pi: n->id = "pi"; break;
    case Kind::exp1: n->id = "E"; break;
    default: {
      std::string id = kind == Kind::add   ? "A("
                       : kind == Kind::mul ? "M("
                       : kind == Kind::pow ? "P("
                                           : "F:" + n->name + "(";
      for (std::size_t i = 0; i < n->args.size(); ++i) id += (i ? "," : "") + n->args[i]->id;
      n->id = id + ")";
    }
  }
  return n;
}

bool is_number(const Expr& e) { return e->kind == Kind::number; }
bool is_exact(const Expr& e, std::int64_t v) { return is_number(e) && e->number.is_exact(v); }
bool equal(const Expr& a, const Expr& b) { return a->id == b->id; }
bool is_function(const Expr& e, const char* name) {
  return e->kind == Kind::function && e->name == name;
}

Expr exp1() { return make(Kind::exp1, {}, "", {}); }

// Free of symbols (sympy's is_number for these expressions).
bool constant(const Expr& e) {
  if (e->kind == Kind::symbol) return false;
  for (const Expr& a : e->args)
    if (!constant(a)) return false;
  return true;
}

// (coefficient, rest) as Expr.as_coeff_Mul(rational).
std::pair<Number, Expr> as_coeff_mul(const Expr& e, bool rational = false) {
  if (is_number(e)) {
    if (!rational || e->number.is_rational()) return {e->number, integer(1)};
    return {Number::integer(1), e};
  }
  if (e->kind == Kind::mul && is_number(e->args[0]) &&
      (!rational || e->args[0]->number.is_rational())) {
    std::vector<Expr> rest(e->args.begin() + 1, e->args.end());
    if (rest.size() == 1) return {e->args[0]->number, rest[0]};
    return {e->args[0]->number, make(Kind::mul, {}, "", std::move(rest))};
  }
  return {Number::integer(1), e};
}

// (base, exponent) as as_base_exp(): exp(u) is E**u.
std::pair<Expr, Expr> as_base_exp(const Expr& e) {
  if (e->kind == Kind::pow) return {e->args[0], e->args[1]};
  if (is_function(e, "exp")) return {exp1(), e->args[0]};
  return {e, integer(1)};
}

// ---- sort keys (Expr.sort_key), compared as Python compares tuples ----

struct Key;
using KeyPtr = std::shared_ptr<const Key>;
struct Key {
  enum Type : std::uint8_t { integer, string, number, tuple } type = tuple;
  std::int64_t i = 0;
  std::string s;
  Number n;
  std::vector<KeyPtr> v;
};
KeyPtr kint(std::int64_t i) {
  auto k = std::make_shared<Key>();
  k->type = Key::integer;
  k->i = i;
  return k;
}
KeyPtr kstr(std::string s) {
  auto k = std::make_shared<Key>();
  k->type = Key::string;
  k->s = std::move(s);
  return k;
}
KeyPtr knum(const Number& n) {
  auto k = std::make_shared<Key>();
  k->type = Key::number;
  k->n = n;
  return k;
}
KeyPtr ktup(std::vector<KeyPtr> v) {
  auto k = std::make_shared<Key>();
  k->type = Key::tuple;
  k->v = std::move(v);
  return k;
}

int compare(const Key& a, const Key& b) {
  const bool an = a.type == Key::integer || a.type == Key::number;
  const bool bn = b.type == Key::integer || b.type == Key::number;
  if (an && bn) {
    const Number x = a.type == Key::integer ? Number::integer(a.i) : a.n;
    const Number y = b.type == Key::integer ? Number::integer(b.i) : b.n;
    return compare_numbers(x, y);
  }
  if (a.type != b.type) unsupported("sort keys of different types");
  if (a.type == Key::string) return a.s.compare(b.s) < 0 ? -1 : (a.s == b.s ? 0 : 1);
  for (std::size_t i = 0; i < std::min(a.v.size(), b.v.size()); ++i)
    if (const int c = compare(*a.v[i], *b.v[i]); c != 0) return c;
  return (a.v.size() > b.v.size()) - (a.v.size() < b.v.size());
}

KeyPtr class_key(const Expr& e) {
  switch (e->kind) {
    case Kind::number: return ktup({kint(1), kint(0), kstr("Number")});
    case Kind::symbol: return ktup({kint(2), kint(0), kstr("Symbol")});
    case Kind::pi: return ktup({kint(2), kint(0), kstr("Pi")});
    case Kind::exp1: return ktup({kint(2), kint(0), kstr("Exp1")});
    case Kind::add: return ktup({kint(3), kint(1), kstr("Add")});
    case Kind::mul: return ktup({kint(3), kint(0), kstr("Mul")});
    case Kind::pow: return ktup({kint(3), kint(2), kstr("Pow")});
    case Kind::function: {
      static const std::map<std::string, int> rank = {
          {"exp", 10}, {"log", 11}, {"sin", 20}, {"cos", 21}, {"tan", 22},
          {"sinh", 30}, {"cosh", 31}, {"tanh", 32}};
      const auto it = rank.find(e->name);
      return ktup({kint(4), kint(it == rank.end() ? 10000 : it->second), kstr(e->name)});
    }
  }
  return {};
}

std::string print(const Expr& e, int level);
KeyPtr sort_key(const Expr& e);
std::vector<Expr> ordered_terms(const Expr& add);
std::vector<Expr> ordered_factors(const Expr& mul);

KeyPtr one_key() {
  thread_local const KeyPtr k = ktup({class_key(integer(1)), ktup({kint(0), ktup({})}), ktup({}),
                                      knum(Number::integer(1))});
  return k;
}

KeyPtr compute_sort_key(const Expr& e);

// Memoised on the node: keys nest, and sorting asks for them repeatedly.
KeyPtr sort_key(const Expr& e) {
  if (!e->key_cache) e->key_cache = compute_sort_key(e);
  return std::static_pointer_cast<const Key>(e->key_cache);
}

KeyPtr compute_sort_key(const Expr& e) {
  switch (e->kind) {
    case Kind::number:
      return ktup({class_key(e), ktup({kint(0), ktup({})}), ktup({}), knum(e->number)});
    case Kind::symbol:
    case Kind::pi:
    case Kind::exp1:
      return ktup({class_key(e), ktup({kint(1), ktup({kstr(print(e, 1))})}), one_key(),
                   knum(Number::integer(1))});
    default:
      break;
  }
  auto [coeff, rest] = as_coeff_mul(e);
  KeyPtr exp_key = one_key();
  if (rest->kind == Kind::pow) {
    exp_key = sort_key(rest->args[1]);
    rest = rest->args[0];
  }
  std::vector<KeyPtr> args;
  if (rest->kind == Kind::number || rest->kind == Kind::symbol || rest->kind == Kind::pi ||
      rest->kind == Kind::exp1) {
    args.push_back(kstr(print(rest, 1)));
  } else {
    std::vector<Expr> parts = rest->kind == Kind::add   ? ordered_terms(rest)
                              : rest->kind == Kind::mul ? ordered_factors(rest)
                                                        : rest->args;
    for (const Expr& a : parts) args.push_back(sort_key(a));
  }
  const auto n = static_cast<std::int64_t>(args.size());
  return ktup({class_key(rest), ktup({kint(n), ktup(std::move(args))}), exp_key, knum(coeff)});
}

bool key_less(const Expr& a, const Expr& b) { return compare(*sort_key(a), *sort_key(b)) < 0; }

std::vector<Expr> ordered_factors(const Expr& mul) {
  if (!mul->ordered_cache) {
    std::vector<Expr> f = mul->args;
    std::stable_sort(f.begin(), f.end(), key_less);
    mul->ordered_cache = std::make_shared<const std::vector<Expr>>(std::move(f));
  }
  return *mul->ordered_cache;
}

// The numeric value of a symbol-free expression (for as_terms' coefficients).
double numeric_value(const Expr& e) {
  switch (e->kind) {
    case Kind::number: return e->number.value();
    case Kind::pi: return 3.141592653589793;
    case Kind::exp1: return 2.718281828459045;
    case Kind::add: {
      double s = 0.0;
      for (const Expr& a : e->args) s += numeric_value(a);
      return s;
    }
    case Kind::mul: {
      double s = 1.0;
      for (const Expr& a : e->args) s *= numeric_value(a);
      return s;
    }
    case Kind::pow: {
      const double v = std::pow(numeric_value(e->args[0]), numeric_value(e->args[1]));
      if (!std::isfinite(v)) unsupported("complex constant");
      return v;
    }
    case Kind::function: {
      const double u = numeric_value(e->args[0]);
      double v = 0.0;
      if (e->name == "exp") v = std::exp(u);
      else if (e->name == "log") v = std::log(u);
      else if (e->name == "sin") v = std::sin(u);
      else if (e->name == "cos") v = std::cos(u);
      else if (e->name == "atan") v = std::atan(u);
      else unsupported("function " + e->name);
      if (!std::isfinite(v)) unsupported("complex constant");
      return v;
    }
    case Kind::symbol:
      break;
  }
  unsupported("not a number");
}

// Expr._keep_coeff for the cases met here.
Expr keep_coeff(const Number& c, const Expr& e) {
  if (c.is_exact(1)) return e;
  if (is_exact(e, 1)) return number(c);
  if (e->kind == Kind::add) unsupported("keep_coeff with an Add");
  std::vector<Expr> args = {number(c)};
  if (e->kind == Kind::mul) {
    args.insert(args.end(), e->args.begin(), e->args.end());
  } else {
    args.push_back(e);
  }
  return make(Kind::mul, {}, "", std::move(args));
}

// exprtools.decompose_power: (base, integer exponent).
std::pair<Expr, std::int64_t> decompose_power(const Expr& factor) {
  auto [b, e] = as_base_exp(factor);
  if (is_number(e)) {
    if (e->number.is_rational()) {
      if (!e->number.is_integer()) b = pow(b, number(Number::rational(1, e->number.q)));
      return {b, e->number.p};
    }
    return {factor, 1};
  }
  const auto [c, tail] = as_coeff_mul(e, true);
  if (c.is_exact(-1)) return {pow(b, tail), -1};
  if (!c.is_exact(1)) return {pow(b, keep_coeff(Number::rational(1, c.q), tail)), c.p};
  return {factor, 1};
}

std::vector<Expr> compute_ordered_terms(const Expr& add);

std::vector<Expr> ordered_terms(const Expr& add) {
  if (!add->ordered_cache)
    add->ordered_cache = std::make_shared<const std::vector<Expr>>(compute_ordered_terms(add));
  return *add->ordered_cache;
}

// Expr.as_ordered_terms (default 'lex' order), Expr.as_terms.
std::vector<Expr> compute_ordered_terms(const Expr& add) {
  const std::vector<Expr>& args = add->args;
  // Special case: Number + Mul(negative Number, expr), e.g. 1 - exp(x).
  {
    std::vector<Expr> sorted = args;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Expr& a, const Expr& b) {
      const bool an = !(a->kind == Kind::number || a->kind == Kind::pi);
      const bool bn = !(b->kind == Kind::number || b->kind == Kind::pi);
      return an < bn;
    });
    if (sorted.size() == 2 && (sorted[0]->kind == Kind::number || sorted[0]->kind == Kind::pi) &&
        sorted[1]->kind == Kind::mul) {
      std::vector<Expr> m = sorted[1]->args;
      std::stable_sort(m.begin(), m.end(), [](const Expr& a, const Expr& b) {
        return (a->kind != Kind::number) < (b->kind != Kind::number);
      });
      const bool first_positive =
          sorted[0]->kind == Kind::pi || sorted[0]->number.sign() > 0;
      if (m.size() == 2 && is_number(m[0]) && first_positive && m[0]->number.sign() < 0)
        return sorted;
    }
  }
  struct Term {
    Expr term;
    double re = 0.0;
    std::vector<std::pair<Expr, std::int64_t>> cpart;
    std::vector<std::int64_t> monom;
  };
  std::vector<Term> terms;
  std::vector<Expr> gens;
  for (const Expr& t : args) {
    Term term;
    term.term = t;
    const auto [c, rest] = as_coeff_mul(t);
    double coeff = c.value();
    if (!is_exact(rest, 1)) {
      const std::vector<Expr> factors =
          rest->kind == Kind::mul ? rest->args : std::vector<Expr>{rest};
      for (const Expr& f : factors) {
        if (constant(f)) {
          coeff *= numeric_value(f);
          continue;
        }
        const auto [base, exp] = decompose_power(f);
        bool found = false;
        for (auto& [b, x] : term.cpart)
          if (equal(b, base)) {
            x = exp;
            found = true;
          }
        if (!found) term.cpart.emplace_back(base, exp);
        if (std::none_of(gens.begin(), gens.end(), [&b = base](const Expr& g) { return equal(g, b); }))
          gens.push_back(base);
      }
    }
    term.re = coeff;
    terms.push_back(std::move(term));
  }
  std::stable_sort(gens.begin(), gens.end(), key_less);
  for (Term& t : terms) {
    t.monom.assign(gens.size(), 0);
    for (const auto& [b, x] : t.cpart)
      for (std::size_t g = 0; g < gens.size(); ++g)
        if (equal(gens[g], b)) t.monom[g] = x;
  }
  std::stable_sort(terms.begin(), terms.end(), [](const Term& a, const Term& b) {
    // key = (neg(monom), ncpart, coeff): exponents descending, then re ascending
    for (std::size_t g = 0; g < a.monom.size(); ++g)
      if (a.monom[g] != b.monom[g]) return a.monom[g] > b.monom[g];
    return a.re < b.re;
  });
  std::vector<Expr> out;
  for (const Term& t : terms) out.push_back(t.term);
  return out;
}

Expr negate(const Expr& e) { return mul({integer(-1), e}); }

bool could_extract_minus_sign(const Expr& e) {
  if (is_number(e)) return e->number.sign() < 0;
  if (e->kind == Kind::mul) return is_number(e->args[0]) && e->args[0]->number.sign() < 0;
  if (e->kind == Kind::add) {
    std::size_t negative = 0;
    for (const Expr& a : e->args) negative += could_extract_minus_sign(a);
    const std::size_t positive = e->args.size() - negative;
    if (positive != negative) return positive < negative;
    return compare(*sort_key(e), *sort_key(negate(e))) < 0;
  }
  return false;
}

// ---- printing (StrPrinter) ----

constexpr int kPrecAdd = 40, kPrecMul = 50, kPrecPow = 60, kPrecFunc = 70, kPrecAtom = 1000;

int precedence(const Expr& e) {
  switch (e->kind) {
    case Kind::add: return kPrecAdd;
    case Kind::mul: return could_extract_minus_sign(e) ? kPrecAdd : kPrecMul;
    case Kind::pow: return kPrecPow;
    case Kind::function: return kPrecFunc;
    case Kind::number:
      if (e->number.sign() < 0) return kPrecAdd;
      return e->number.is_rational() && !e->number.is_integer() ? kPrecMul : kPrecAtom;
    default: return kPrecAtom;
  }
}

// mpmath's to_str(mpf, 15 digits): at most 15 significant digits, fixed
// notation for a leading digit position strictly between -5 and 15.
std::string float_text(double v, bool strip) {
  if (v == 0.0) return std::signbit(v) ? "-0.0" : "0.0";
  const bool negative = v < 0;
  // Exact decimal expansion, then the first 18 digits rounded towards zero
  // (to_digits_exp), then rounding half up at 15 digits as to_str does.
  char buf[1100];
  std::snprintf(buf, sizeof buf, "%.1074e", std::fabs(v));
  std::string mantissa;
  for (const char* c = buf; *c && *c != 'e'; ++c)
    if (*c >= '0' && *c <= '9') mantissa += *c;
  int exponent = std::atoi(std::strchr(buf, 'e') + 1);
  std::string digits = mantissa.substr(0, 18);
  const int dps = 15;
  if (digits.size() > dps && digits[dps] >= '5') {
    digits = digits.substr(0, dps);
    int i = dps - 1;
    while (i >= 0 && digits[static_cast<std::size_t>(i)] == '9') --i;
    if (i >= 0) {
      digits = digits.substr(0, static_cast<std::size_t>(i)) +
               static_cast<char>(digits[static_cast<std::size_t>(i)] + 1) +
               std::string(static_cast<std::size_t>(dps - i - 1), '0');
    } else {
      digits = "1" + std::string(dps - 1, '0');
      ++exponent;
    }
  } else {
    digits = digits.substr(0, dps);
  }
  std::size_t split = 1;
  if (-5 < exponent && exponent < 15) {
    if (exponent < 0) {
      digits = std::string(static_cast<std::size_t>(-exponent), '0') + digits;
    } else {
      split = static_cast<std::size_t>(exponent) + 1;
      if (split > static_cast<std::size_t>(dps)) digits += std::string(split - dps, '0');
    }
    exponent = 0;
  }
  digits = digits.substr(0, split) + "." + digits.substr(split);
  if (strip) {
    while (digits.back() == '0') digits.pop_back();
    if (digits.back() == '.') digits += '0';
  }
  std::string s = (negative ? "-" : "") + digits;
  if (exponent > 0) s += "e+" + std::to_string(exponent);
  if (exponent < 0) s += "e" + std::to_string(exponent);
  return s;
}

std::string number_text(const Number& n, int level) {
  if (n.is_float) return float_text(n.f, level > 1);
  if (n.q == 1) return std::to_string(n.p);
  return std::to_string(n.p) + "/" + std::to_string(n.q);
}

std::string parenthesize(const Expr& e, int level, int print_level) {
  if (precedence(e) <= level) return "(" + print(e, print_level + 1) + ")";
  return print(e, print_level + 1);
}

std::string print_add(const Expr& e, int level) {
  const std::vector<Expr> terms = ordered_terms(e);
  std::vector<std::string> parts;
  for (const Expr& term : terms) {
    std::string t = print(term, level + 1);
    std::string sign = "+";
    if (!t.empty() && t[0] == '-' && term->kind != Kind::add) {
      sign = "-";
      t = t.substr(1);
    }
    if (precedence(term) < kPrecAdd || term->kind == Kind::add) t = "(" + t + ")";
    parts.push_back(sign);
    parts.push_back(t);
  }
  std::string out = parts[0] == "+" ? "" : parts[0];
  for (std::size_t i = 1; i < parts.size(); ++i) out += (i > 1 ? " " : "") + parts[i];
  return out;
}

std::string print_mul(const Expr& e, int level) {
  const int prec = precedence(e);
  auto [c, rest] = as_coeff_mul(e);
  std::string sign;
  Expr expr = e;
  if (c.sign() < 0) {
    expr = keep_coeff(-c, rest);
    sign = "-";
  }
  std::vector<Expr> factors =
      expr->kind == Kind::mul ? ordered_factors(expr) : std::vector<Expr>{expr};
  std::vector<Expr> a, b;
  for (const Expr& item : factors) {
    if (item->kind == Kind::pow && as_coeff_mul(item->args[1]).first.sign() < 0) {
      const Expr& exp = item->args[1];
      if (is_exact(exp, -1)) {
        b.push_back(item->args[0]);
      } else {
        // apow: the exponent without its minus sign, unevaluated
        Expr positive;
        if (is_number(exp)) {
          positive = number(-exp->number);
        } else {
          std::vector<Expr> eargs = exp->args;  // a Mul with a negative coefficient
          if (is_exact(eargs[0], -1)) {
            eargs.erase(eargs.begin());
          } else {
            eargs[0] = number(-eargs[0]->number);
          }
          positive = eargs.size() == 1 ? eargs[0] : make(Kind::mul, {}, "", eargs);
        }
        b.push_back(make(Kind::pow, {}, "", {item->args[0], positive}));
      }
    } else if (is_number(item) && item->number.is_rational()) {
      if (item->number.p != 1) a.push_back(integer(item->number.p));
      if (item->number.q != 1) b.push_back(integer(item->number.q));
    } else {
      a.push_back(item);
    }
  }
  if (a.empty()) a.push_back(integer(1));
  std::string out = sign;
  for (std::size_t i = 0; i < a.size(); ++i) out += (i ? "*" : "") + parenthesize(a[i], prec, level);
  if (b.size() == 1) {
    out += "/" + parenthesize(b[0], prec, level);
  } else if (b.size() > 1) {
    out += "/(";
    for (std::size_t i = 0; i < b.size(); ++i)
      out += (i ? "*" : "") + parenthesize(b[i], prec, level);
    out += ")";
  }
  return out;
}

std::string print_pow(const Expr& e, int level) {
  const Expr& base = e->args[0];
  const Expr& exp = e->args[1];
  if (is_number(exp) && same(exp->number, Number::rational(1, 2)))
    return "sqrt(" + print(base, level + 1) + ")";
  if (is_number(exp) && same(exp->number, Number::rational(-1, 2)))
    return "1/sqrt(" + print(base, level + 1) + ")";
  if (is_exact(exp, -1)) return "1/" + parenthesize(base, kPrecPow, level);
  return parenthesize(base, kPrecPow, level) + "**" + parenthesize(exp, kPrecPow, level);
}

std::string print(const Expr& e, int level) {
  switch (e->kind) {
    case Kind::number: return number_text(e->number, level);
    case Kind::symbol: return e->name;
    case Kind::pi: return "pi";
    case Kind::exp1: return "E";
    case Kind::add: return print_add(e, level);
    case Kind::mul: return print_mul(e, level);
    case Kind::pow: return print_pow(e, level);
    case Kind::function: return e->name + "(" + print(e->args[0], level + 1) + ")";
  }
  return "?";
}

}  // namespace

// ---- constructors ----

Expr number(const Number& n) { return make(Kind::number, n, "", {}); }
Expr integer(std::int64_t v) { return number(Number::integer(v)); }
Expr symbol(const std::string& name) { return make(Kind::symbol, {}, name, {}); }
Expr pi() { return make(Kind::pi, {}, "", {}); }

Number literal(const std::string& text, double value) {
  if (text.find_first_of(".eE") == std::string::npos) {
    if (text.size() > 18) unsupported("long integer literal");
    return Number::integer(std::stoll(text));
  }
  std::size_t digits = 0;
  bool leading = true;
  for (const char c : text) {
    if (c == 'e' || c == 'E') break;
    if (c < '0' || c > '9') continue;
    if (leading && c == '0') continue;
    leading = false;
    ++digits;
  }
  if (digits > 15) unsupported("literal with more than 15 digits");
  return Number::real(value);
}

// Add.flatten: numbers summed, like terms collected by their non-numeric part.
Expr add(std::vector<Expr> terms) {
  std::vector<Expr> flat;
  for (const Expr& t : terms) {
    if (t->kind == Kind::add) {
      flat.insert(flat.end(), t->args.begin(), t->args.end());
    } else {
      flat.push_back(t);
    }
  }
  Number coeff = Number::integer(0);
  std::vector<std::pair<Expr, Number>> collected;
  for (const Expr& t : flat) {
    if (is_number(t)) {
      coeff = coeff + t->number;
      continue;
    }
    const auto [c, rest] = as_coeff_mul(t);
    bool found = false;
    for (auto& [r, k] : collected)
      if (equal(r, rest)) {
        k = k + c;
        found = true;
        break;
      }
    if (!found) collected.emplace_back(rest, c);
  }
  std::vector<Expr> out;
  for (const auto& [rest, c] : collected) {
    if (c.is_zero()) continue;
    if (c.is_exact(1)) {
      out.push_back(rest);
    } else if (rest->kind == Kind::mul) {
      std::vector<Expr> args = {number(c)};
      args.insert(args.end(), rest->args.begin(), rest->args.end());
      out.push_back(make(Kind::mul, {}, "", std::move(args)));
    } else {
      out.push_back(mul({number(c), rest}));
    }
  }
  if (!coeff.is_zero()) out.insert(out.begin(), number(coeff));
  if (out.empty()) return integer(0);
  if (out.size() == 1) return out[0];
  // A canonical (order-independent) argument order; printing re-orders.
  std::stable_sort(out.begin(), out.end(), [](const Expr& a, const Expr& b) { return a->id < b->id; });
  return make(Kind::add, {}, "", std::move(out));
}

// Mul.flatten: numbers multiplied, powers of a base with exponents of the
// same non-numeric part combined, Number*Add distributed.
Expr mul(std::vector<Expr> factors) {
  for (int round = 0;; ++round) {
    if (round > 8) unsupported("Mul does not settle");
    std::vector<Expr> flat;
    for (const Expr& f : factors) {
      if (f->kind == Kind::mul) {
        flat.insert(flat.end(), f->args.begin(), f->args.end());
      } else {
        flat.push_back(f);
      }
    }
    Number coeff = Number::integer(1);
    struct Power {
      Expr base, tail;
      Number co;
    };
    std::vector<Power> powers;
    for (const Expr& f : flat) {
      if (is_number(f)) {
        coeff = coeff * f->number;
        continue;
      }
      const auto [b, e] = as_base_exp(f);
      const auto [co, tail] = as_coeff_mul(e);
      bool found = false;
      for (Power& p : powers)
        if (equal(p.base, b) && equal(p.tail, tail)) {
          p.co = p.co + co;
          found = true;
          break;
        }
      if (!found) powers.push_back({b, tail, co});
    }
    if (coeff.is_zero()) return number(coeff.is_float ? Number::integer(0) : coeff);
    std::vector<Expr> out;
    bool again = false;
    for (const Power& p : powers) {
      if (p.co.is_zero() && !p.co.is_float) continue;
      const Expr exponent = is_exact(p.tail, 1) ? number(p.co) : mul({number(p.co), p.tail});
      if (is_exact(exponent, 0)) continue;
      Expr f = (p.base->kind == Kind::exp1) ? function("exp", exponent)
               : (is_exact(exponent, 1))    ? p.base
                                            : pow(p.base, exponent);
      if (f->kind == Kind::mul || is_number(f)) again = true;
      out.push_back(f);
    }
    if (again) {
      out.push_back(number(coeff));
      factors = std::move(out);
      continue;
    }
    std::stable_sort(out.begin(), out.end(), key_less);
    if (out.empty()) return number(coeff);
    if (coeff.is_exact(1) && out.size() == 1) return out[0];
    if (out.size() == 1 && out[0]->kind == Kind::add) {
      // 2*(1 + a) -> 2 + 2*a
      std::vector<Expr> terms;
      for (const Expr& t : out[0]->args) terms.push_back(mul({number(coeff), t}));
      return add(std::move(terms));
    }
    if (!coeff.is_exact(1)) out.insert(out.begin(), number(coeff));
    return make(Kind::mul, {}, "", std::move(out));
  }
}

Expr pow(const Expr& b, const Expr& e) {
  if (is_exact(e, 0)) return integer(1);
  if (is_exact(e, 1)) return b;
  if (b->kind == Kind::exp1) return function("exp", e);
  if (is_number(b)) {
    if (b->number.is_exact(1)) return integer(1);
    if (is_number(e)) {
      if (e->number.is_integer()) {
        if (b->number.is_zero() && e->number.sign() < 0) unsupported("0**negative");
        return number(power(b->number, e->number.p));
      }
      unsupported("number**non-integer");
    }
    if (b->number.sign() <= 0) unsupported("non-positive base");
    return make(Kind::pow, {}, "", {b, e});
  }
  const bool integer_exponent = is_number(e) && e->number.is_integer();
  if (b->kind == Kind::pow && integer_exponent) return pow(b->args[0], mul({b->args[1], e}));
  if (b->kind == Kind::mul) {
    if (integer_exponent) {
      std::vector<Expr> f;
      for (const Expr& a : b->args) f.push_back(pow(a, e));
      return mul(std::move(f));
    }
    if (std::any_of(b->args.begin(), b->args.end(), [](const Expr& a) { return constant(a); }))
      unsupported("(c*x)**non-integer");
  }
  if (is_function(b, "exp") && integer_exponent) return function("exp", mul({b->args[0], e}));
  return make(Kind::pow, {}, "", {b, e});
}

Expr function(const std::string& name, const Expr& u) {
  if (name != "exp" && name != "log" && name != "sin" && name != "cos" && name != "atan")
    unsupported("function " + name);
  const bool has_log = is_function(u, "log") ||
                       ((u->kind == Kind::add || u->kind == Kind::mul) &&
                        std::any_of(u->args.begin(), u->args.end(),
                                    [](const Expr& a) { return is_function(a, "log"); }));
  if (name == "exp") {
    if (is_exact(u, 0)) return integer(1);
    if (constant(u)) unsupported("exp of a constant");
    if (has_log) unsupported("exp with a log");
    return make(Kind::function, {}, name, {u});
  }
  if (name == "log") {
    if (is_exact(u, 1)) return integer(0);
    if (constant(u) && !(is_number(u) && u->number.is_integer() && u->number.p > 1))
      unsupported("log of a constant");
    return make(Kind::function, {}, name, {u});
  }
  // sin, cos, atan
  if (is_exact(u, 0)) return integer(name == "cos" ? 1 : 0);
  if (constant(u)) unsupported(name + " of a constant");
  if (is_function(u, "atan") || is_function(u, "asin") || is_function(u, "acos"))
    unsupported(name + " of an inverse function");
  if (u->kind == Kind::add)
    for (const Expr& t : u->args)
      if (constant(t)) unsupported(name + " of a shifted argument");
  if (could_extract_minus_sign(u)) {
    const Expr inner = make(Kind::function, {}, name, {negate(u)});
    return name == "cos" ? inner : negate(inner);
  }
  return make(Kind::function, {}, name, {u});
}

// ---- derivative (Expr.diff) ----

Expr diff(const Expr& e, const std::string& s) {
  switch (e->kind) {
    case Kind::number:
    case Kind::pi:
    case Kind::exp1:
      return integer(0);
    case Kind::symbol:
      return integer(e->name == s ? 1 : 0);
    case Kind::add: {
      std::vector<Expr> terms;
      for (const Expr& a : e->args) terms.push_back(diff(a, s));
      return add(std::move(terms));
    }
    case Kind::mul: {
      // Mul._eval_derivative: sum over i of args[:i] * d(args[i]) * args[i+1:]
      std::vector<Expr> terms;
      for (std::size_t i = 0; i < e->args.size(); ++i) {
        const Expr d = diff(e->args[i], s);
        if (is_exact(d, 0)) continue;
        Expr product = integer(1);
        for (std::size_t j = 0; j < e->args.size(); ++j)
          product = mul({product, j == i ? d : e->args[j]});
        terms.push_back(product);
      }
      return add(std::move(terms));
    }
    case Kind::pow: {
      // Pow._eval_derivative: self * (dexp*log(base) + dbase*exp/base)
      const Expr& b = e->args[0];
      const Expr& x = e->args[1];
      const Expr db = diff(b, s), dx = diff(x, s);
      Expr first = integer(0);
      if (!is_exact(dx, 0)) first = mul({dx, function("log", b)});
      const Expr second = mul({mul({db, x}), pow(b, integer(-1))});
      return mul({e, add({first, second})});
    }
    case Kind::function: {
      const Expr& u = e->args[0];
      const Expr du = diff(u, s);
      if (is_exact(du, 0)) return integer(0);
      Expr df;
      if (e->name == "exp") df = e;
      else if (e->name == "log") df = pow(u, integer(-1));
      else if (e->name == "sin") df = function("cos", u);
      else if (e->name == "cos") df = negate(function("sin", u));
      else if (e->name == "atan") df = pow(add({integer(1), pow(u, integer(2))}), integer(-1));
      else unsupported("derivative of " + e->name);
      return add({mul({df, du})});
    }
  }
  unsupported("diff");
}

std::string str(const Expr& e) { return print(e, 1); }

Budget::Budget(long nodes) : saved_(g_budget) { g_budget = nodes; }
Budget::~Budget() { g_budget = saved_; }

}  // namespace lmbatch::expr::detail::sym
