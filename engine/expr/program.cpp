// The compiled form: straight-line code over blocks of samples.
//
// Nodes that do not depend on a sample variable are computed once per
// evaluation into scalars; the others run as vector instructions, one loop
// over a block of kBlock samples each, with their results in scratch slots
// reused as soon as their last reader has run (so the working set of a block
// stays small). Every instruction applies the same scalar function as
// constant folding does (detail::apply and the inline operations), so a value
// is the same bits however it is computed.
#include <algorithm>
#include <cassert>
#include <vector>

#include "graph.hpp"

namespace lmbatch::expr::detail {

Program Program::build(const Graph& graph, const std::vector<int>& roots) {
  const int size = graph.size();
  // Which nodes are needed: node ids are topologically ordered (operands
  // first), so one backward sweep marks everything the roots read.
  std::vector<char> needed(static_cast<std::size_t>(size), 0);
  for (const int r : roots) needed[static_cast<std::size_t>(r)] = 1;
  for (int id = size - 1; id >= 0; --id) {
    if (!needed[static_cast<std::size_t>(id)]) continue;
    const Node& n = graph[id];
    for (int i = 0; i < arity(n.op); ++i) needed[static_cast<std::size_t>(n.arg[i])] = 1;
  }

  Program p;
  std::vector<Operand> where(static_cast<std::size_t>(size));
  // Scalars: constants first, then parameter-only values in order.
  for (int id = 0; id < size; ++id) {
    if (!needed[static_cast<std::size_t>(id)]) continue;
    const Node& n = graph[id];
    if (n.op == Op::constant) {
      where[static_cast<std::size_t>(id)] = {Operand::scalar,
                                             static_cast<std::int32_t>(p.constants.size())};
      p.constants.push_back(n.value);
    }
  }
  int n_scalars = static_cast<int>(p.constants.size());
  for (int id = 0; id < size; ++id) {
    if (!needed[static_cast<std::size_t>(id)]) continue;
    const Node& n = graph[id];
    if (n.op == Op::constant || n.varying) continue;
    ScalarInstruction s{n.op, {-1, -1, -1, -1}, n_scalars};
    if (n.op == Op::parameter) {
      s.arg[0] = n.index;
    } else {
      for (int i = 0; i < arity(n.op); ++i) s.arg[i] = where[static_cast<std::size_t>(n.arg[i])].index;
    }
    p.scalar_code.push_back(s);
    where[static_cast<std::size_t>(id)] = {Operand::scalar, n_scalars++};
  }
  p.n_scalars = n_scalars;

  // Vector instructions, in id order; last reader of each node decides when
  // its slot is free again (roots are read at the end, never freed).
  std::vector<int> order;
  for (int id = 0; id < size; ++id) {
    const Node& n = graph[id];
    if (needed[static_cast<std::size_t>(id)] && n.varying && n.op != Op::variable)
      order.push_back(id);
  }
  std::vector<int> last_use(static_cast<std::size_t>(size), -1);
  for (int k = 0; k < static_cast<int>(order.size()); ++k) {
    const Node& n = graph[order[static_cast<std::size_t>(k)]];
    for (int i = 0; i < arity(n.op); ++i) last_use[static_cast<std::size_t>(n.arg[i])] = k;
  }
  for (const int r : roots) last_use[static_cast<std::size_t>(r)] = static_cast<int>(order.size());

  std::vector<std::int32_t> free_slots;
  int n_slots = 0;
  for (int k = 0; k < static_cast<int>(order.size()); ++k) {
    const int id = order[static_cast<std::size_t>(k)];
    const Node& n = graph[id];
    VectorInstruction v{};
    v.op = n.op;
    for (int i = 0; i < arity(n.op); ++i) {
      const int a = n.arg[i];
      const Node& arg = graph[a];
      if (arg.op == Op::variable) {
        v.arg[i] = {Operand::variable, arg.index};
      } else {
        v.arg[i] = where[static_cast<std::size_t>(a)];
      }
    }
    // Operands read for the last time free their slots first: an
    // element-wise instruction may write over its own operand.
    for (int i = 0; i < arity(n.op); ++i) {
      const int a = n.arg[i];
      if (v.arg[i].kind == Operand::slot && last_use[static_cast<std::size_t>(a)] == k) {
        if (std::find(free_slots.begin(), free_slots.end(), v.arg[i].index) == free_slots.end())
          free_slots.push_back(v.arg[i].index);
        last_use[static_cast<std::size_t>(a)] = -2;  // freed once
      }
    }
    std::int32_t slot;
    if (!free_slots.empty()) {
      slot = free_slots.back();
      free_slots.pop_back();
    } else {
      slot = n_slots++;
    }
    v.dst = slot;
    p.vector_code.push_back(v);
    where[static_cast<std::size_t>(id)] = {Operand::slot, slot};
  }
  p.n_slots = n_slots;

  for (const int r : roots) {
    const Node& n = graph[r];
    p.outputs.push_back(n.op == Op::variable ? Operand{Operand::variable, n.index}
                                             : where[static_cast<std::size_t>(r)]);
  }
  return p;
}

double* Program::prepare(const double* params) const {
  // Per-thread scratch: scalars, then n_slots blocks. Grows, never shrinks.
  thread_local std::vector<double> scratch;
  const std::size_t need =
      static_cast<std::size_t>(n_scalars) + static_cast<std::size_t>(n_slots) * kBlock;
  if (scratch.size() < need) scratch.resize(need);
  double* s = scratch.data();
  std::copy(constants.begin(), constants.end(), s);
  for (const ScalarInstruction& in : scalar_code) {
    if (in.op == Op::parameter) {
      s[in.dst] = params[in.arg[0]];
      continue;
    }
    double v[4] = {0.0, 0.0, 0.0, 0.0};
    for (int i = 0; i < arity(in.op); ++i) v[i] = s[in.arg[i]];
    s[in.dst] = apply(in.op, v[0], v[1], v[2], v[3]);
  }
  return s;
}

namespace {

// Element-wise loops. Operands are (pointer, stride): stride 1 walks a block,
// stride 0 repeats a scalar. The common arithmetic shapes get their own
// loops so that the compiler can vectorise them.
template <class F>
inline void unary(const F& f, const double* a, double* r, int count) {
  for (int i = 0; i < count; ++i) r[i] = f(a[i]);
}

template <class F>
inline void binary(const F& f, const double* a, int sa, const double* b, int sb, double* r,
                   int count) {
  if (sa && sb) {
    for (int i = 0; i < count; ++i) r[i] = f(a[i], b[i]);
  } else if (sa) {
    const double bv = *b;
    for (int i = 0; i < count; ++i) r[i] = f(a[i], bv);
  } else if (sb) {
    const double av = *a;
    for (int i = 0; i < count; ++i) r[i] = f(av, b[i]);
  } else {
    const double v = f(*a, *b);
    for (int i = 0; i < count; ++i) r[i] = v;
  }
}

}  // namespace

void Program::run_block(double* scratch, const double* const* vars, std::size_t first,
                        int count) const {
  double* slots = scratch + n_scalars;
  const auto ptr = [&](const Operand& o, int& stride) -> const double* {
    switch (o.kind) {
      case Operand::scalar:
        stride = 0;
        return scratch + o.index;
      case Operand::slot:
        stride = 1;
        return slots + static_cast<std::size_t>(o.index) * kBlock;
      case Operand::variable:
        stride = 1;
        return vars[o.index] + first;
    }
    stride = 0;
    return scratch;
  };
  for (const VectorInstruction& in : vector_code) {
    double* r = slots + static_cast<std::size_t>(in.dst) * kBlock;
    int sa = 0, sb = 0;
    const double* a = ptr(in.arg[0], sa);
    const double* b = arity(in.op) >= 2 ? ptr(in.arg[1], sb) : nullptr;
    // Unary operands of a vector instruction are always vectors.
    switch (in.op) {
      case Op::neg: unary([](double u) { return -u; }, a, r, count); break;
      case Op::add: binary([](double u, double v) { return u + v; }, a, sa, b, sb, r, count); break;
      case Op::sub: binary([](double u, double v) { return u - v; }, a, sa, b, sb, r, count); break;
      case Op::mul: binary([](double u, double v) { return u * v; }, a, sa, b, sb, r, count); break;
      case Op::div: binary([](double u, double v) { return u / v; }, a, sa, b, sb, r, count); break;
      case Op::pow: binary(pow_op, a, sa, b, sb, r, count); break;
      case Op::atan2:
        binary([](double u, double v) { return std::atan2(u, v); }, a, sa, b, sb, r, count);
        break;
      case Op::min: binary(min_op, a, sa, b, sb, r, count); break;
      case Op::max: binary(max_op, a, sa, b, sb, r, count); break;
      case Op::exp: unary([](double u) { return std::exp(u); }, a, r, count); break;
      case Op::log: unary([](double u) { return std::log(u); }, a, r, count); break;
      case Op::log10: unary([](double u) { return std::log10(u); }, a, r, count); break;
      case Op::sqrt: unary([](double u) { return std::sqrt(u); }, a, r, count); break;
      case Op::abs: unary([](double u) { return std::fabs(u); }, a, r, count); break;
      case Op::sin: unary([](double u) { return std::sin(u); }, a, r, count); break;
      case Op::cos: unary([](double u) { return std::cos(u); }, a, r, count); break;
      case Op::tan: unary([](double u) { return std::tan(u); }, a, r, count); break;
      case Op::asin: unary([](double u) { return std::asin(u); }, a, r, count); break;
      case Op::acos: unary([](double u) { return std::acos(u); }, a, r, count); break;
      case Op::atan: unary([](double u) { return std::atan(u); }, a, r, count); break;
      case Op::sinh: unary([](double u) { return std::sinh(u); }, a, r, count); break;
      case Op::cosh: unary([](double u) { return std::cosh(u); }, a, r, count); break;
      case Op::tanh: unary([](double u) { return std::tanh(u); }, a, r, count); break;
      case Op::erf: unary([](double u) { return std::erf(u); }, a, r, count); break;
      case Op::erfc: unary([](double u) { return std::erfc(u); }, a, r, count); break;
      case Op::sign: unary(sign_op, a, r, count); break;
      case Op::select_le: {
        int sc = 0, sd = 0;
        const double* c = ptr(in.arg[2], sc);
        const double* d = ptr(in.arg[3], sd);
        for (int i = 0; i < count; ++i) r[i] = a[i * sa] <= b[i * sb] ? c[i * sc] : d[i * sd];
        break;
      }
      case Op::constant:
      case Op::variable:
      case Op::parameter:
        assert(false);
        break;
    }
  }
}

}  // namespace lmbatch::expr::detail
