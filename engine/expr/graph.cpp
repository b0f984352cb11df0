// The expression graph: hash-consed nodes, constant folding, the numeric
// meaning of each operation, derivative graphs and text.
#include "graph.hpp"

#include <bit>
#include <cassert>
#include <numbers>
#include <stdexcept>

namespace lmbatch::expr::detail {

int arity(Op op) {
  switch (op) {
    case Op::constant:
    case Op::variable:
    case Op::parameter:
      return 0;
    case Op::add:
    case Op::sub:
    case Op::mul:
    case Op::div:
    case Op::pow:
    case Op::atan2:
    case Op::min:
    case Op::max:
      return 2;
    case Op::select_le:
      return 4;
    default:
      return 1;
  }
}

const char* op_name(Op op) {
  switch (op) {
    case Op::constant: return "constant";
    case Op::variable: return "variable";
    case Op::parameter: return "parameter";
    case Op::neg: return "-";
    case Op::add: return "+";
    case Op::sub: return "-";
    case Op::mul: return "*";
    case Op::div: return "/";
    case Op::pow: return "pow";
    case Op::exp: return "exp";
    case Op::log: return "log";
    case Op::log10: return "log10";
    case Op::sqrt: return "sqrt";
    case Op::abs: return "abs";
    case Op::sin: return "sin";
    case Op::cos: return "cos";
    case Op::tan: return "tan";
    case Op::asin: return "asin";
    case Op::acos: return "acos";
    case Op::atan: return "atan";
    case Op::atan2: return "atan2";
    case Op::sinh: return "sinh";
    case Op::cosh: return "cosh";
    case Op::tanh: return "tanh";
    case Op::erf: return "erf";
    case Op::erfc: return "erfc";
    case Op::min: return "min";
    case Op::max: return "max";
    case Op::sign: return "sign";
    case Op::select_le: return "select_le";
  }
  return "?";
}

double apply(Op op, double a, double b, double c, double d) {
  switch (op) {
    case Op::neg: return -a;
    case Op::add: return a + b;
    case Op::sub: return a - b;
    case Op::mul: return a * b;
    case Op::div: return a / b;
    case Op::pow: return pow_op(a, b);
    case Op::exp: return std::exp(a);
    case Op::log: return std::log(a);
    case Op::log10: return std::log10(a);
    case Op::sqrt: return std::sqrt(a);
    case Op::abs: return std::fabs(a);
    case Op::sin: return std::sin(a);
    case Op::cos: return std::cos(a);
    case Op::tan: return std::tan(a);
    case Op::asin: return std::asin(a);
    case Op::acos: return std::acos(a);
    case Op::atan: return std::atan(a);
    case Op::atan2: return std::atan2(a, b);
    case Op::sinh: return std::sinh(a);
    case Op::cosh: return std::cosh(a);
    case Op::tanh: return std::tanh(a);
    case Op::erf: return std::erf(a);
    case Op::erfc: return std::erfc(a);
    case Op::min: return min_op(a, b);
    case Op::max: return max_op(a, b);
    case Op::sign: return sign_op(a);
    case Op::select_le: return a <= b ? c : d;
    case Op::constant:
    case Op::variable:
    case Op::parameter:
      break;
  }
  throw std::logic_error("expr: apply() on a leaf");
}

std::size_t Graph::KeyHash::operator()(const Key& k) const {
  std::uint64_t h = static_cast<std::uint64_t>(k.op) * 0x9E3779B97F4A7C15ull;
  const auto mix = [&h](std::uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  };
  for (const std::int32_t a : k.arg) mix(static_cast<std::uint64_t>(static_cast<std::int64_t>(a)));
  mix(k.bits);
  return static_cast<std::size_t>(h);
}

Graph::Graph() = default;

int Graph::intern(const Node& n) {
  Key key{n.op, {n.arg[0], n.arg[1], n.arg[2], n.arg[3]}, 0};
  if (n.op == Op::constant) {
    key.bits = std::bit_cast<std::uint64_t>(n.value);
  } else if (n.op == Op::variable || n.op == Op::parameter) {
    key.bits = static_cast<std::uint64_t>(n.index);
  }
  if (const auto it = index_.find(key); it != index_.end()) return it->second;
  const int id = static_cast<int>(nodes_.size());
  nodes_.push_back(n);
  index_.emplace(key, id);
  return id;
}

int Graph::constant(double v) {
  Node n;
  n.op = Op::constant;
  n.value = v;
  return intern(n);
}

int Graph::variable(int index) {
  Node n;
  n.op = Op::variable;
  n.index = index;
  n.varying = true;
  return intern(n);
}

int Graph::parameter(int index) {
  Node n;
  n.op = Op::parameter;
  n.index = index;
  return intern(n);
}

int Graph::exact(Op op, int a, int b, int c, int d) {
  const int args[4] = {a, b, c, d};
  const int k = arity(op);
  assert(k > 0);
  bool all_constant = true;
  Node n;
  n.op = op;
  for (int i = 0; i < k; ++i) {
    assert(args[i] >= 0 && args[i] < size());
    const Node& arg = (*this)[args[i]];
    all_constant = all_constant && arg.op == Op::constant;
    n.varying = n.varying || arg.varying;
    n.depth = std::max(n.depth, arg.depth + 1);
    n.arg[i] = args[i];
  }
  if (all_constant) {
    double v[4] = {0.0, 0.0, 0.0, 0.0};
    for (int i = 0; i < k; ++i) v[i] = (*this)[args[i]].value;
    return constant(apply(op, v[0], v[1], v[2], v[3]));
  }
  // (-a) + b and b + (-a) are b - a, bit for bit: one node for the three
  // spellings (sympy prints x - b as -b + x).
  if (op == Op::add) {
    if ((*this)[n.arg[0]].op == Op::neg) return exact(Op::sub, n.arg[1], (*this)[n.arg[0]].arg[0]);
    if ((*this)[n.arg[1]].op == Op::neg) return exact(Op::sub, n.arg[0], (*this)[n.arg[1]].arg[0]);
  }
  // IEEE + and * are commutative: one canonical operand order lets
  // a*b and b*a share a node.
  if ((op == Op::add || op == Op::mul) && n.arg[0] > n.arg[1]) std::swap(n.arg[0], n.arg[1]);
  return intern(n);
}

int Graph::simplified(Op op, int a, int b, int c, int d) {
  switch (op) {
    case Op::neg:
      if ((*this)[a].op == Op::neg) return (*this)[a].arg[0];
      break;
    case Op::add:
      if (is_zero(a)) return b;
      if (is_zero(b)) return a;
      if ((*this)[b].op == Op::neg) return simplified(Op::sub, a, (*this)[b].arg[0]);
      if ((*this)[a].op == Op::neg) return simplified(Op::sub, b, (*this)[a].arg[0]);
      break;
    case Op::sub:
      if (is_zero(b)) return a;
      if (is_zero(a)) return simplified(Op::neg, b);
      if ((*this)[b].op == Op::neg) return simplified(Op::add, a, (*this)[b].arg[0]);
      break;
    case Op::mul:
      if (is_zero(a) || is_zero(b)) return constant(0.0);
      if (is_constant(a, 1.0)) return b;
      if (is_constant(b, 1.0)) return a;
      if (is_constant(a, -1.0)) return simplified(Op::neg, b);
      if (is_constant(b, -1.0)) return simplified(Op::neg, a);
      // Signs move out of products: (-a)*b -> -(a*b), the same magnitude.
      if ((*this)[a].op == Op::neg)
        return simplified(Op::neg, simplified(Op::mul, (*this)[a].arg[0], b));
      if ((*this)[b].op == Op::neg)
        return simplified(Op::neg, simplified(Op::mul, a, (*this)[b].arg[0]));
      break;
    case Op::div:
      if (is_zero(a)) return constant(0.0);
      if (is_constant(b, 1.0)) return a;
      if (is_constant(b, -1.0)) return simplified(Op::neg, a);
      if ((*this)[a].op == Op::neg)
        return simplified(Op::neg, simplified(Op::div, (*this)[a].arg[0], b));
      if ((*this)[b].op == Op::neg)
        return simplified(Op::neg, simplified(Op::div, a, (*this)[b].arg[0]));
      break;
    default:
      break;
  }
  return exact(op, a, b, c, d);
}

int Graph::derivative(int node, int k) {
  if (deriving_ != k) {
    deriving_ = k;
    memo_.assign(nodes_.size(), -1);
  }
  return derive(node);
}

int Graph::derive(int id) {
  if (static_cast<std::size_t>(id) >= memo_.size()) memo_.resize(nodes_.size(), -1);
  if (memo_[static_cast<std::size_t>(id)] >= 0) return memo_[static_cast<std::size_t>(id)];
  const Node n = (*this)[id];  // copy: the vector grows below
  const int a = n.arg[0], b = n.arg[1];
  const auto S = [this](Op op, int x, int y = -1, int z = -1, int w = -1) {
    return simplified(op, x, y, z, w);
  };
  const auto C = [this](double v) { return constant(v); };
  int r = -1;
  switch (n.op) {
    case Op::constant:
    case Op::variable:
      r = C(0.0);
      break;
    case Op::parameter:
      r = C(n.index == deriving_ ? 1.0 : 0.0);
      break;
    case Op::neg:
      r = S(Op::neg, derive(a));
      break;
    case Op::add:
      r = S(Op::add, derive(a), derive(b));
      break;
    case Op::sub:
      r = S(Op::sub, derive(a), derive(b));
      break;
    case Op::mul: {
      // d(a*b) = da*b + a*db; a product of identical factors (a*a from a^2)
      // gives the same two terms, summed.
      const int da = derive(a), db = derive(b);
      r = S(Op::add, S(Op::mul, da, b), S(Op::mul, a, db));
      break;
    }
    case Op::div: {
      // d(a/b) = da/b - a*db/(b*b)
      const int da = derive(a), db = derive(b);
      r = S(Op::sub, S(Op::div, da, b), S(Op::div, S(Op::mul, a, db), S(Op::mul, b, b)));
      break;
    }
    case Op::pow: {
      const int da = derive(a), db = derive(b);
      if (is_zero(db)) {
        // d(a^c) = c * a^(c-1) * da
        r = S(Op::mul, S(Op::mul, b, S(Op::pow, a, S(Op::sub, b, C(1.0)))), da);
      } else if (is_zero(da)) {
        // d(c^b) = c^b * log(c) * db
        r = S(Op::mul, S(Op::mul, id, S(Op::log, a)), db);
      } else {
        // d(a^b) = a^b * (db*log(a) + b*da/a)
        r = S(Op::mul, id,
              S(Op::add, S(Op::mul, db, S(Op::log, a)), S(Op::div, S(Op::mul, b, da), a)));
      }
      break;
    }
    case Op::exp:
      r = S(Op::mul, id, derive(a));
      break;
    case Op::log:
      r = S(Op::div, derive(a), a);
      break;
    case Op::log10:
      r = S(Op::div, derive(a), S(Op::mul, a, C(std::numbers::ln10)));
      break;
    case Op::sqrt:
      r = S(Op::div, derive(a), S(Op::mul, C(2.0), id));
      break;
    case Op::abs:
      r = S(Op::mul, S(Op::sign, a), derive(a));
      break;
    case Op::sin:
      r = S(Op::mul, S(Op::cos, a), derive(a));
      break;
    case Op::cos:
      r = S(Op::neg, S(Op::mul, S(Op::sin, a), derive(a)));
      break;
    case Op::tan:
      r = S(Op::mul, S(Op::add, C(1.0), S(Op::mul, id, id)), derive(a));
      break;
    case Op::asin:
      r = S(Op::div, derive(a), S(Op::sqrt, S(Op::sub, C(1.0), S(Op::mul, a, a))));
      break;
    case Op::acos:
      r = S(Op::neg, S(Op::div, derive(a), S(Op::sqrt, S(Op::sub, C(1.0), S(Op::mul, a, a)))));
      break;
    case Op::atan:
      r = S(Op::div, derive(a), S(Op::add, C(1.0), S(Op::mul, a, a)));
      break;
    case Op::atan2: {
      // d atan2(a, b) = (b*da - a*db) / (a*a + b*b)
      const int da = derive(a), db = derive(b);
      r = S(Op::div, S(Op::sub, S(Op::mul, b, da), S(Op::mul, a, db)),
            S(Op::add, S(Op::mul, a, a), S(Op::mul, b, b)));
      break;
    }
    case Op::sinh:
      r = S(Op::mul, S(Op::cosh, a), derive(a));
      break;
    case Op::cosh:
      r = S(Op::mul, S(Op::sinh, a), derive(a));
      break;
    case Op::tanh:
      r = S(Op::mul, S(Op::sub, C(1.0), S(Op::mul, id, id)), derive(a));
      break;
    case Op::erf:
    case Op::erfc: {
      // d erf(a) = 2/sqrt(pi) * exp(-(a*a)) * da
      const int g = S(Op::mul, C(std::numbers::inv_sqrtpi * 2.0),
                      S(Op::exp, S(Op::neg, S(Op::mul, a, a))));
      r = S(Op::mul, g, derive(a));
      if (n.op == Op::erfc) r = S(Op::neg, r);
      break;
    }
    case Op::min:
      r = S(Op::select_le, a, b, derive(a), derive(b));
      break;
    case Op::max:
      r = S(Op::select_le, b, a, derive(a), derive(b));
      break;
    case Op::sign:
      r = C(0.0);
      break;
    case Op::select_le: {
      const int dc = derive(n.arg[2]), dd = derive(n.arg[3]);
      r = (is_zero(dc) && is_zero(dd)) ? C(0.0) : S(Op::select_le, a, b, dc, dd);
      break;
    }
  }
  if (memo_.size() < nodes_.size()) memo_.resize(nodes_.size(), -1);
  memo_[static_cast<std::size_t>(id)] = r;
  return r;
}

namespace {
std::string number_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

std::string Graph::text(int id, const std::vector<std::string>& parameters,
                        const std::vector<std::string>& variables) const {
  const Node& n = (*this)[id];
  const auto t = [&](int i) { return text(n.arg[i], parameters, variables); };
  switch (n.op) {
    case Op::constant:
      return n.value < 0 ? "(" + number_text(n.value) + ")" : number_text(n.value);
    case Op::variable:
      return variables.at(static_cast<std::size_t>(n.index));
    case Op::parameter:
      return parameters.at(static_cast<std::size_t>(n.index));
    case Op::neg:
      return "(-" + t(0) + ")";
    case Op::add:
    case Op::sub:
    case Op::mul:
    case Op::div:
      return "(" + t(0) + " " + op_name(n.op) + " " + t(1) + ")";
    case Op::select_le:
      return "(" + t(0) + " <= " + t(1) + " ? " + t(2) + " : " + t(3) + ")";
    default:
      break;
  }
  std::string s = std::string(op_name(n.op)) + "(";
  for (int i = 0; i < arity(n.op); ++i) s += (i ? ", " : "") + t(i);
  return s + ")";
}

}  // namespace lmbatch::expr::detail
