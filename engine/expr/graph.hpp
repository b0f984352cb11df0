// Internal to engine/expr: the expression graph (a DAG of hash-consed nodes),
// the numeric meaning of every operation, symbolic differentiation and the
// compiled array-at-a-time program.
//
// Bit-exactness rules (the NIST StRD proof depends on them):
//  * every node is one IEEE double operation or one C libm call, evaluated in
//    the written order (a + b + c is (a + b) + c); nothing is reassociated;
//  * a ^ 2, a ^ 3, a ^ 4 with a literal exponent are the left-associated
//    products a*a, (a*a)*a, ((a*a)*a)*a; every other power calls libm pow()
//    (with 0 ^ negative = +inf whatever the sign of the zero);
//  * constant subexpressions are folded with the very same functions at
//    compile time, and parameter-only subexpressions are computed once per
//    evaluation instead of once per sample: both give the same bits;
//  * identical subexpressions are computed once (common subexpression
//    elimination), and the operands of + and * may be swapped (IEEE addition
//    and multiplication are commutative): both leave the bits unchanged.
// Algebraic simplification (x*1 -> x, x+0 -> x, ...) is applied only to the
// derivative graphs, never to what the user wrote.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sym.hpp"

namespace lmbatch::expr::detail {

enum class Op : std::uint8_t {
  constant,
  variable,   // a per-sample variable (x), index = which
  parameter,  // index = which
  neg,
  add,
  sub,
  mul,
  div,
  pow,
  exp,
  log,
  log10,
  sqrt,
  abs,
  sin,
  cos,
  tan,
  asin,
  acos,
  atan,
  atan2,
  sinh,
  cosh,
  tanh,
  erf,
  erfc,
  min,
  max,
  sign,       // derivative of abs: 1, -1, 0 (NaN for NaN)
  select_le,  // arg0 <= arg1 ? arg2 : arg3 (derivatives of min and max)
};

int arity(Op op);
const char* op_name(Op op);  // "+", "exp", ...

// ---- numerics, shared by constant folding, the scalar and the vector code ----

inline double pow_op(double a, double b) {
  // As the NIST reference's cpow(): 0 ^ negative is +inf also for -0.0.
  if (a == 0.0 && b < 0.0) return std::numeric_limits<double>::infinity();
  return std::pow(a, b);
}
inline double min_op(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  return b < a ? b : a;
}
inline double max_op(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  return b > a ? b : a;
}
inline double sign_op(double a) {
  if (a > 0.0) return 1.0;
  if (a < 0.0) return -1.0;
  return a == 0.0 ? 0.0 : a;  // NaN stays NaN
}

// One operation on scalars (a..d as the op's arity needs).
double apply(Op op, double a, double b = 0.0, double c = 0.0, double d = 0.0);

// ---- the graph ----

struct Node {
  Op op = Op::constant;
  std::int32_t arg[4] = {-1, -1, -1, -1};
  double value = 0.0;       // Op::constant
  std::int32_t index = 0;   // Op::variable, Op::parameter
  bool varying = false;     // depends on a per-sample variable
  std::int32_t depth = 0;   // longest path to a leaf
};

class Graph {
 public:
  Graph();
  const Node& operator[](int id) const { return nodes_[static_cast<std::size_t>(id)]; }
  int size() const { return static_cast<int>(nodes_.size()); }

  int constant(double v);
  int variable(int index);
  int parameter(int index);
  // Exactly the operation written: constant operands are folded (same
  // function, same bits), nothing else is rewritten.
  int exact(Op op, int a, int b = -1, int c = -1, int d = -1);
  // For derivative graphs: also x+0 -> x, x*1 -> x, x*0 -> 0, --x -> x, ...
  int simplified(Op op, int a, int b = -1, int c = -1, int d = -1);

  bool is_constant(int id, double v) const {
    const Node& n = (*this)[id];
    return n.op == Op::constant && n.value == v && !std::signbit(n.value) == !std::signbit(v);
  }
  bool is_zero(int id) const {
    const Node& n = (*this)[id];
    return n.op == Op::constant && n.value == 0.0;
  }

  // d node / d parameter k (memoised per k; the graph grows).
  int derivative(int node, int k);

  // Fully parenthesised text, for tests and messages; names of parameters and
  // variables from the given lists.
  std::string text(int node, const std::vector<std::string>& parameters,
                   const std::vector<std::string>& variables) const;

 private:
  struct Key {
    Op op;
    std::int32_t arg[4];
    std::uint64_t bits;  // value bits or index
    bool operator==(const Key& o) const {
      return op == o.op && arg[0] == o.arg[0] && arg[1] == o.arg[1] && arg[2] == o.arg[2] &&
             arg[3] == o.arg[3] && bits == o.bits;
    }
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  int intern(const Node& n);
  int derive(int node);

  std::vector<Node> nodes_;
  std::unordered_map<Key, int, KeyHash> index_;
  int deriving_ = -1;             // the parameter derive() differentiates by
  std::vector<std::int32_t> memo_;  // node -> derivative (for deriving_), -1 unknown
};

// ---- the compiled program ----

// An operand of a vector instruction: a scalar (constant or parameter-only
// value, computed once per evaluation), a vector slot of the scratch, or a
// sample variable.
struct Operand {
  enum Kind : std::uint8_t { scalar, slot, variable };
  Kind kind = scalar;
  std::int32_t index = 0;
};

struct ScalarInstruction {
  Op op;
  std::int32_t arg[4];  // scalar indices (or the parameter's index for Op::parameter)
  std::int32_t dst;
};

struct VectorInstruction {
  Op op;
  Operand arg[4];
  std::int32_t dst;  // slot
};

// Straight-line code computing `outputs` for a block of samples at a time.
struct Program {
  std::vector<double> constants;  // scalars[0 .. constants.size())
  std::vector<ScalarInstruction> scalar_code;
  int n_scalars = 0;
  std::vector<VectorInstruction> vector_code;
  int n_slots = 0;
  std::vector<Operand> outputs;

  // Builds the program computing the given nodes of the graph.
  static Program build(const Graph& graph, const std::vector<int>& roots);

  // Samples per block: the slots of one block stay in the L1/L2 cache.
  static constexpr int kBlock = 128;

  // Runs the program over m samples; for each block, sink(k, operand values
  // (pointer to `count` doubles, or to one scalar with stride 0), stride,
  // first sample, count) is called for every output k.
  template <class Sink>
  void run(const double* p, const double* const* vars, std::size_t m, Sink&& sink) const;

 private:
  double* prepare(const double* p) const;  // scratch (this thread), scalars computed
  void run_block(double* scratch, const double* const* vars, std::size_t first, int count) const;
};

template <class Sink>
void Program::run(const double* p, const double* const* vars, std::size_t m, Sink&& sink) const {
  double* scratch = prepare(p);
  double* slots = scratch + n_scalars;
  for (std::size_t first = 0; first < m; first += kBlock) {
    const int count = static_cast<int>(std::min<std::size_t>(kBlock, m - first));
    run_block(scratch, vars, first, count);
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      const Operand& o = outputs[k];
      switch (o.kind) {
        case Operand::scalar:
          sink(k, scratch + o.index, 0, first, count);
          break;
        case Operand::slot:
          sink(k, slots + static_cast<std::size_t>(o.index) * kBlock, 1, first, count);
          break;
        case Operand::variable:
          sink(k, vars[o.index] + first, 1, first, count);
          break;
      }
    }
  }
}

// ---- parsing ----

struct ParseOptions {
  const std::vector<std::string>* parameters = nullptr;  // given order; nullptr: free names
  const std::vector<std::string>* variables = nullptr;
  bool allow_unused = false;  // listed parameters need not appear (derivative texts)
  bool build_sym = false;     // also build SymPy's form of the expression (sym.hpp)
};
struct Parsed {
  int root = -1;
  std::vector<std::string> parameters;  // in index order
  sym::Expr sym;  // with build_sym: SymPy's form, or null if outside sym's subset
};
// Parses `text` into `graph`. Throws lmbatch::expr::Error.
Parsed parse(std::string_view text, const ParseOptions& options, Graph& graph);

// The free names (neither variables, constants nor functions) in order of
// first appearance; checks the syntax on the way.
std::vector<std::string> free_names(std::string_view text,
                                    const std::vector<std::string>& variables);

// Function and constant names, for messages and checks.
bool is_function_name(std::string_view name);
bool is_constant_name(std::string_view name);
std::string function_list();

}  // namespace lmbatch::expr::detail
