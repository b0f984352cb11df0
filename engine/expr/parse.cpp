// The expression parser: tokens with their columns, recursive descent with
// Python's precedence, straight into the graph (exact nodes only).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <numbers>
#include <optional>
#include <string>

#include "graph.hpp"
#include "lmbatch/expr/expression.hpp"

namespace lmbatch::expr::detail {
namespace {

// Longer texts and deeper nesting are surely not a model (and would make the
// recursive descent and the derivative recursion deep).
constexpr std::size_t kMaxLength = 100000;
constexpr int kMaxDepth = 500;

struct Function {
  const char* name;
  Op op;
  int arity;
};
constexpr Function kFunctions[] = {
    {"exp", Op::exp, 1},     {"log", Op::log, 1},     {"log10", Op::log10, 1},
    {"sqrt", Op::sqrt, 1},   {"abs", Op::abs, 1},     {"sin", Op::sin, 1},
    {"cos", Op::cos, 1},     {"tan", Op::tan, 1},     {"asin", Op::asin, 1},
    {"acos", Op::acos, 1},   {"atan", Op::atan, 1},   {"atan2", Op::atan2, 2},
    {"sinh", Op::sinh, 1},   {"cosh", Op::cosh, 1},   {"tanh", Op::tanh, 1},
    {"erf", Op::erf, 1},     {"erfc", Op::erfc, 1},   {"pow", Op::pow, 2},
    {"min", Op::min, 2},     {"max", Op::max, 2},
};

const Function* find_function(std::string_view name) {
  for (const Function& f : kFunctions)
    if (name == f.name) return &f;
  return nullptr;
}

std::optional<double> constant_value(std::string_view name) {
  if (name == "pi") return std::numbers::pi;  // == M_PI
  if (name == "e") return std::numbers::e;    // == M_E
  return std::nullopt;
}

enum class Tok { number, name, plus, minus, star, slash, power, lparen, rparen, comma, end };

struct Token {
  Tok kind = Tok::end;
  std::string_view text;
  int column = 0;  // 1-based
  double number = 0.0;
};

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string describe(const Token& t) {
  return t.kind == Tok::end ? std::string("end of expression") : quoted(t.text);
}

class Parser {
 public:
  Parser(std::string_view text, const ParseOptions& options, Graph* graph)
      : text_(text), options_(options), graph_(graph) {
    if (text.size() > kMaxLength)
      fail(0, "", "expression too long (" + std::to_string(text.size()) + " characters, at most " +
                      std::to_string(kMaxLength) + ")");
    if (options_.parameters != nullptr) {
      for (const std::string& p : *options_.parameters) {
        if (p.empty() || !(std::isalpha(static_cast<unsigned char>(p[0])) || p[0] == '_') ||
            !std::all_of(p.begin(), p.end(),
                         [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }))
          fail(0, p, "parameter name " + quoted(p) + " is not a name ([A-Za-z_][A-Za-z0-9_]*)");
        if (is_reserved(p))
          fail(0, p,
               "parameter name " + quoted(p) + " is reserved (a function, a constant or a variable)");
        if (std::count(options_.parameters->begin(), options_.parameters->end(), p) > 1)
          fail(0, p, "parameter " + quoted(p) + " is listed twice");
      }
      used_.assign(options_.parameters->size(), false);
    }
    sym_ok_ = options_.build_sym && graph_ != nullptr;
    advance();
  }

  // The whole text: one expression, then the end.
  int parse_all() {
    if (current_.kind == Tok::end) fail(current_, "empty expression");
    const Result r = expression(0);
    const int root = r.node;
    root_sym_ = r.s;
    if (current_.kind != Tok::end)
      fail(current_, "unexpected " + describe(current_) + " after a complete expression");
    return root;
  }

  // SymPy's form of the whole text (null when outside sym's subset).
  sym::Expr sym_root() const { return sym_ok_ ? root_sym_ : nullptr; }

  std::vector<std::string> parameters() const {
    if (options_.parameters == nullptr) return names_;
    if (options_.allow_unused) return *options_.parameters;
    for (std::size_t i = 0; i < used_.size(); ++i)
      if (!used_[i])
        fail(0, (*options_.parameters)[i],
             "parameter " + quoted((*options_.parameters)[i]) +
                 " does not appear in the expression");
    return *options_.parameters;
  }
  const std::vector<std::string>& free_names() const { return names_; }

  [[noreturn]] void fail(const Token& t, const std::string& message) const {
    fail(t.column, t.kind == Tok::end ? std::string() : std::string(t.text), message);
  }
  [[noreturn]] void fail(int column, const std::string& token, const std::string& message) const {
    std::string what = "expression " + quoted(text_) + ": ";
    if (column > 0) what += "column " + std::to_string(column) + ": ";
    throw Error(what + message, column, token);
  }

 private:
  struct Result {
    int node = -1;
    bool literal = false;  // a number as written (possibly in parentheses)
    sym::Expr s = nullptr;  // SymPy's form, while sym_ok_
  };

  // Builds SymPy's form alongside the graph; the first construct outside
  // sym's subset turns it off for the rest of the text.
  template <class F>
  sym::Expr with_sym(F f) {
    if (!sym_ok_) return nullptr;
    try {
      return f();
    } catch (const sym::Unsupported&) {
      sym_ok_ = false;
      return nullptr;
    }
  }

  bool is_reserved(std::string_view name) const {
    return find_function(name) != nullptr || constant_value(name).has_value() ||
           variable_index(name) >= 0;
  }
  int variable_index(std::string_view name) const {
    if (options_.variables == nullptr) return -1;
    for (std::size_t i = 0; i < options_.variables->size(); ++i)
      if ((*options_.variables)[i] == name) return static_cast<int>(i);
    return -1;
  }

  void advance() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    Token t;
    t.column = static_cast<int>(pos_) + 1;
    if (pos_ >= text_.size()) {
      t.kind = Tok::end;
      current_ = t;
      return;
    }
    const char c = text_[pos_];
    const auto single = [&](Tok kind, std::size_t length = 1) {
      t.kind = kind;
      t.text = text_.substr(pos_, length);
      pos_ += length;
    };
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && pos_ + 1 < text_.size() &&
         std::isdigit(static_cast<unsigned char>(text_[pos_ + 1])))) {
      // digits [. digits] [e [+-] digits], or . digits ...
      std::size_t end = pos_;
      const auto digits = [&] {
        while (end < text_.size() && std::isdigit(static_cast<unsigned char>(text_[end]))) ++end;
      };
      digits();
      if (end < text_.size() && text_[end] == '.') {
        ++end;
        digits();
      }
      if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
        std::size_t e = end + 1;
        if (e < text_.size() && (text_[e] == '+' || text_[e] == '-')) ++e;
        if (e < text_.size() && std::isdigit(static_cast<unsigned char>(text_[e]))) {
          end = e;
          digits();
        }
      }
      t.kind = Tok::number;
      t.text = text_.substr(pos_, end - pos_);
      const char* first = t.text.data();
      const char* last = first + t.text.size();
      const auto [ptr, ec] = std::from_chars(first, last, t.number);
      if (ec == std::errc::result_out_of_range) {
        // from_chars reports overflow and underflow alike; follow strtod.
        t.number = std::strtod(std::string(t.text).c_str(), nullptr);
      } else if (ec != std::errc() || ptr != last) {
        pos_ = end;
        current_ = t;
        fail(t, "malformed number " + quoted(t.text));
      }
      pos_ = end;
      // A name glued to a number ("2x") is not implicit multiplication.
      if (pos_ < text_.size() &&
          (std::isalpha(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
           text_[pos_] == '.')) {
        Token bad;
        bad.column = static_cast<int>(pos_) + 1;
        bad.kind = Tok::name;
        bad.text = text_.substr(pos_, 1);
        fail(bad, "unexpected " + quoted(bad.text) + " right after the number " + quoted(t.text) +
                      " (write * for a product)");
      }
      current_ = t;
      return;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t end = pos_;
      while (end < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_'))
        ++end;
      single(Tok::name, end - pos_);
      current_ = t;
      return;
    }
    switch (c) {
      case '+': single(Tok::plus); break;
      case '-': single(Tok::minus); break;
      case '*':
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
          single(Tok::power, 2);
        } else {
          single(Tok::star);
        }
        break;
      case '/': single(Tok::slash); break;
      case '^': single(Tok::power); break;
      case '(': single(Tok::lparen); break;
      case ')': single(Tok::rparen); break;
      case ',': single(Tok::comma); break;
      default: {
        // One whole UTF-8 character for the message.
        std::size_t length = 1;
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0xF0) length = 4;
        else if (u >= 0xE0) length = 3;
        else if (u >= 0xC0) length = 2;
        t.kind = Tok::name;
        t.text = text_.substr(pos_, std::min(length, text_.size() - pos_));
        current_ = t;
        fail(t, "unexpected character " + quoted(t.text) +
                    " (expressions use numbers, names, + - * / ^ **, parentheses and commas)");
      }
    }
    current_ = t;
  }

  void expect(Tok kind, const char* what) {
    if (current_.kind != kind)
      fail(current_, "unexpected " + describe(current_) + "; expected " + what);
    advance();
  }

  void check_depth(const Token& at, int depth) const {
    if (depth > kMaxDepth)
      fail(at, "expression nested too deeply (more than " + std::to_string(kMaxDepth) + " levels)");
  }

  int make(Op op, int a, int b = -1) {
    if (graph_ == nullptr) return 0;
    const int id = graph_->exact(op, a, b);
    return id;
  }

  Result expression(int depth) {
    check_depth(current_, depth);
    Result left = term(depth + 1);
    while (current_.kind == Tok::plus || current_.kind == Tok::minus) {
      const Op op = current_.kind == Tok::plus ? Op::add : Op::sub;
      advance();
      const Result right = term(depth + 1);
      const sym::Expr s = with_sym([&] {
        return sym::add({left.s, op == Op::add ? right.s : sym::mul({sym::integer(-1), right.s})});
      });
      left = {make(op, left.node, right.node), false, s};
    }
    return left;
  }

  Result term(int depth) {
    Result left = unary(depth);
    while (current_.kind == Tok::star || current_.kind == Tok::slash) {
      const Op op = current_.kind == Tok::star ? Op::mul : Op::div;
      advance();
      const Result right = unary(depth);
      const sym::Expr s = with_sym([&] {
        return sym::mul(
            {left.s, op == Op::mul ? right.s : sym::pow(right.s, sym::integer(-1))});
      });
      left = {make(op, left.node, right.node), false, s};
    }
    return left;
  }

  Result unary(int depth) {
    check_depth(current_, depth);
    if (current_.kind == Tok::minus) {
      advance();
      const Result operand = unary(depth + 1);
      const sym::Expr s = with_sym([&] { return sym::mul({sym::integer(-1), operand.s}); });
      return {make(Op::neg, operand.node), false, s};
    }
    if (current_.kind == Tok::plus) {
      advance();
      const Result operand = unary(depth + 1);
      return {operand.node, false, operand.s};
    }
    return power(depth + 1);
  }

  Result power(int depth) {
    const Result base = primary(depth);
    if (current_.kind != Tok::power) return base;
    advance();
    const Result exponent = unary(depth + 1);
    if (graph_ == nullptr) return {0, false};
    const sym::Expr s = with_sym([&] { return sym::pow(base.s, exponent.s); });
    // A copy, not a reference into the graph: make() below may grow (and so
    // reallocate) the graph's node vector.
    const double e_value = (*graph_)[exponent.node].value;
    if (exponent.literal && (e_value == 2.0 || e_value == 3.0 || e_value == 4.0)) {
      // a^2, a^3, a^4: left-associated products, as the references evaluate them.
      int product = base.node;
      for (int i = 1; i < static_cast<int>(e_value); ++i)
        product = make(Op::mul, product, base.node);
      return {product, false, s};
    }
    return {make(Op::pow, base.node, exponent.node), false, s};
  }

  Result primary(int depth) {
    check_depth(current_, depth);
    const Token t = current_;
    switch (t.kind) {
      case Tok::number: {
        advance();
        const sym::Expr s = with_sym(
            [&] { return sym::number(sym::literal(std::string(t.text), t.number)); });
        return {graph_ ? graph_->constant(t.number) : 0, true, s};
      }
      case Tok::lparen: {
        advance();
        const Result inner = expression(depth + 1);
        if (current_.kind != Tok::rparen)
          fail(current_, "unexpected " + describe(current_) + "; expected \")\" to close the \"(\" at column " +
                             std::to_string(t.column));
        advance();
        return inner;
      }
      case Tok::name:
        advance();
        if (current_.kind == Tok::lparen) return call(t, depth);
        return name(t);
      default:
        fail(t, "unexpected " + describe(t) + "; expected a number, a name or \"(\"");
    }
  }

  Result call(const Token& name_token, int depth) {
    const Function* f = find_function(name_token.text);
    if (f == nullptr) {
      if (constant_value(name_token.text) || variable_index(name_token.text) >= 0 ||
          is_parameter_name(name_token.text))
        fail(name_token, quoted(name_token.text) +
                             " is not a function (write * for a product, as in " +
                             std::string(name_token.text) + "*(...))");
      fail(name_token, "unknown function " + quoted(name_token.text) + " (functions: " +
                           function_list() + ")");
    }
    const Token open = current_;
    advance();  // "("
    std::vector<int> args;
    std::vector<sym::Expr> sym_args;
    if (current_.kind != Tok::rparen) {
      for (;;) {
        const Result r = expression(depth + 1);
        args.push_back(r.node);
        sym_args.push_back(r.s);
        if (current_.kind != Tok::comma) break;
        advance();
      }
    }
    if (current_.kind != Tok::rparen)
      fail(current_, "unexpected " + describe(current_) + "; expected \",\" or \")\" to close " +
                         std::string(f->name) + "( at column " + std::to_string(open.column));
    advance();
    if (static_cast<int>(args.size()) != f->arity)
      fail(name_token, "function " + quoted(f->name) + " takes " + std::to_string(f->arity) +
                           (f->arity == 1 ? " argument" : " arguments") + ", got " +
                           std::to_string(args.size()));
    if (graph_ == nullptr) return {0, false};
    const sym::Expr s = with_sym([&] {
      const std::string fn = f->name;
      if (fn == "sqrt") return sym::pow(sym_args[0], sym::number(sym::Number::rational(1, 2)));
      if (fn == "pow") return sym::pow(sym_args[0], sym_args[1]);
      return sym::function(fn, sym_args[0]);  // Unsupported outside exp log sin cos atan
    });
    return {graph_->exact(f->op, args[0], f->arity > 1 ? args[1] : -1), false, s};
  }

  bool is_parameter_name(std::string_view name) const {
    if (options_.parameters != nullptr)
      return std::find(options_.parameters->begin(), options_.parameters->end(), name) !=
             options_.parameters->end();
    return std::find(names_.begin(), names_.end(), name) != names_.end();
  }

  Result name(const Token& t) {
    const std::string text(t.text);
    if (const auto v = constant_value(t.text)) {
      const sym::Expr s = with_sym([&]() -> sym::Expr {
        if (text == "pi") return sym::pi();
        throw sym::Unsupported("the constant e");
      });
      return {graph_ ? graph_->constant(*v) : 0, false, s};
    }
    if (const int v = variable_index(t.text); v >= 0)
      return {graph_ ? graph_->variable(v) : 0, false, with_sym([&] { return sym::symbol(text); })};
    if (find_function(t.text) != nullptr)
      fail(t, quoted(t.text) + " is a function: call it as " + std::string(t.text) + "(...)");
    if (std::find(names_.begin(), names_.end(), t.text) == names_.end())
      names_.emplace_back(t.text);
    int index = -1;
    if (options_.parameters != nullptr) {
      const auto& list = *options_.parameters;
      const auto it = std::find(list.begin(), list.end(), t.text);
      if (it == list.end()) {
        std::string known;
        for (const std::string& p : list) known += (known.empty() ? "" : ", ") + p;
        std::string vars;
        if (options_.variables)
          for (const std::string& v : *options_.variables) vars += (vars.empty() ? "" : ", ") + v;
        fail(t, "unknown name " + quoted(t.text) + " (parameters: " + known + "; variables: " +
                    vars + "; constants: pi, e)");
      }
      index = static_cast<int>(it - list.begin());
      used_[static_cast<std::size_t>(index)] = true;
    } else {
      index = static_cast<int>(std::find(names_.begin(), names_.end(), t.text) - names_.begin());
    }
    return {graph_ ? graph_->parameter(index) : 0, false,
            with_sym([&] { return sym::symbol(text); })};
  }

  std::string_view text_;
  const ParseOptions& options_;
  Graph* graph_;  // nullptr: syntax and names only
  std::size_t pos_ = 0;
  Token current_;
  std::vector<std::string> names_;  // free names, in order of first appearance
  std::vector<bool> used_;          // per listed parameter
  bool sym_ok_ = false;             // still building SymPy's form
  sym::Expr root_sym_ = nullptr;
};

}  // namespace

Parsed parse(std::string_view text, const ParseOptions& options, Graph& graph) {
  Parser parser(text, options, &graph);
  Parsed out;
  out.root = parser.parse_all();
  out.parameters = parser.parameters();
  out.sym = parser.sym_root();
  return out;
}

std::vector<std::string> free_names(std::string_view text,
                                    const std::vector<std::string>& variables) {
  ParseOptions options;
  options.variables = &variables;
  Parser parser(text, options, nullptr);
  parser.parse_all();
  return parser.free_names();
}

bool is_function_name(std::string_view name) { return find_function(name) != nullptr; }
bool is_constant_name(std::string_view name) { return constant_value(name).has_value(); }

std::string function_list() {
  std::string list;
  for (const Function& f : kFunctions) list += (list.empty() ? "" : " ") + std::string(f.name);
  return list;
}

}  // namespace lmbatch::expr::detail
