#include "lmbatch/batch/constraints.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace lmbatch::batch {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string names_text(const std::vector<std::string>& names) {
  std::string t;
  for (const auto& n : names) t += (t.empty() ? "" : ", ") + n;
  return t;
}

// A number, or inf/-inf/+inf; `empty` for an empty side. Throws naming `what`.
double parse_number(const std::string& text, double empty, const std::string& what) {
  if (text.empty()) return empty;
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "inf" || t == "+inf" || t == "infinity" || t == "+infinity") return kInf;
  if (t == "-inf" || t == "-infinity") return -kInf;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || std::isnan(v))
    throw std::invalid_argument(what + ": '" + text + "' is not a number");
  return v;
}

// The parameters a name in --bounds or --fix stands for: itself, or every
// repeat name_1, name_2, ... of a term's base name. exact: whether it is a
// full name (which wins over a base name).
std::vector<int> parameters_named(const std::string& name, const std::vector<std::string>& names,
                                  const char* option, bool& exact) {
  std::vector<int> found;
  for (std::size_t j = 0; j < names.size(); ++j)
    if (names[j] == name) {
      exact = true;
      return {static_cast<int>(j)};
    }
  exact = false;
  for (std::size_t j = 0; j < names.size(); ++j) {
    const std::string& p = names[j];
    if (p.size() <= name.size() + 1 || p.compare(0, name.size(), name) != 0 ||
        p[name.size()] != '_')
      continue;
    const std::string suffix = p.substr(name.size() + 1);
    if (std::all_of(suffix.begin(), suffix.end(),
                    [](unsigned char c) { return std::isdigit(c) != 0; }))
      found.push_back(static_cast<int>(j));
  }
  if (found.empty())
    throw std::invalid_argument(std::string(option) + ": '" + name +
                                "' is not a parameter of the model (" + names_text(names) + ")");
  return found;
}

// "name=rest" -> (name, rest); has_value false for a bare "name".
struct Item {
  std::string name, value;
  bool has_value = false;
};
Item split_item(const std::string& item, const char* option, bool value_required) {
  const std::size_t eq = item.find('=');
  Item it;
  it.name = trim(std::string_view(item).substr(0, eq));
  if (eq != std::string::npos) {
    it.value = trim(std::string_view(item).substr(eq + 1));
    it.has_value = true;
  }
  if (it.name.empty() || (value_required && !it.has_value))
    throw std::invalid_argument(std::string(option) + ": '" + item + "' is not " +
                                (value_required ? "name=value" : "name or name=value"));
  return it;
}

// Which entry set a parameter: so that a full name wins over a base name, and
// one given twice at the same level is an error.
enum class SetBy : std::uint8_t { none, base, exact };

}  // namespace

std::vector<std::string> split_constraint_items(std::string_view text) {
  std::vector<std::string> items;
  int depth = 0;
  std::string current;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      if (!trim(current).empty()) items.push_back(trim(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!trim(current).empty()) items.push_back(trim(current));
  return items;
}

ResolvedConstraints resolve_constraints(std::string_view bounds, std::string_view fix,
                                        std::string_view tie,
                                        const std::vector<std::string>& names) {
  ResolvedConstraints rc;
  const auto n = names.size();
  rc.n = static_cast<int>(n);
  rc.lower.assign(n, -kInf);
  rc.upper.assign(n, kInf);
  rc.role.assign(n, ParameterRole::free);
  rc.fixed_value.assign(n, kNaN);

  std::vector<SetBy> bound_by(n, SetBy::none), fix_by(n, SetBy::none);
  // Applies an entry to a parameter unless a more specific one already did.
  const auto claim = [&](std::vector<SetBy>& by, int j, bool exact, const char* option) {
    const SetBy level = exact ? SetBy::exact : SetBy::base;
    if (by[j] == level)
      throw std::invalid_argument(std::string(option) + ": parameter " + names[j] +
                                  " is given twice");
    if (by[j] == SetBy::exact) return false;
    by[j] = level;
    return true;
  };

  for (const std::string& item : split_constraint_items(bounds)) {
    const Item it = split_item(item, "bounds", true);
    const std::size_t colon = it.value.find(':');
    if (colon == std::string::npos)
      throw std::invalid_argument("bounds: '" + item + "' is not name=lower:upper");
    const std::string what = "bounds of " + it.name;
    const double lo = parse_number(trim(it.value.substr(0, colon)), -kInf, what);
    const double hi = parse_number(trim(it.value.substr(colon + 1)), kInf, what);
    bool exact = false;
    for (int j : parameters_named(it.name, names, "bounds", exact)) {
      // scipy least_squares' rule: each lower bound strictly below its upper.
      if (!(lo < hi) || lo == kInf || hi == -kInf)
        throw std::invalid_argument(
            "bounds: parameter " + names[j] + ": the lower bound " +
            trim(it.value.substr(0, colon)) + " must be below the upper bound " +
            trim(it.value.substr(colon + 1)) + (lo == hi ? " (to hold it, use fix)" : ""));
      if (!claim(bound_by, j, exact, "bounds")) continue;
      rc.lower[j] = lo;
      rc.upper[j] = hi;
    }
  }
  for (std::size_t j = 0; j < n; ++j)
    rc.has_bounds = rc.has_bounds || std::isfinite(rc.lower[j]) || std::isfinite(rc.upper[j]);

  for (const std::string& item : split_constraint_items(fix)) {
    const Item it = split_item(item, "fix", false);
    const double value =
        it.has_value ? parse_number(it.value, kNaN, "fix: the value of " + it.name) : kNaN;
    if (it.has_value && !std::isfinite(value))
      throw std::invalid_argument("fix: the value of " + it.name + " must be finite, not " +
                                  it.value);
    bool exact = false;
    for (int j : parameters_named(it.name, names, "fix", exact)) {
      if (!claim(fix_by, j, exact, "fix")) continue;
      rc.role[j] = ParameterRole::fixed;
      rc.fixed_value[j] = value;
      rc.has_fixed = true;
    }
  }

  // Ties: every tied parameter first (a tie may not refer to one), then the
  // expressions.
  std::vector<Item> tie_items;
  for (const std::string& item : split_constraint_items(tie)) {
    Item it = split_item(item, "tie", true);
    const auto at = std::find(names.begin(), names.end(), it.name);
    if (at == names.end())
      throw std::invalid_argument("tie: '" + it.name + "' is not a parameter of the model (" +
                                  names_text(names) + ")");
    const auto j = static_cast<std::size_t>(at - names.begin());
    if (rc.role[j] == ParameterRole::fixed)
      throw std::invalid_argument("tie: parameter " + it.name + " is fixed and tied");
    if (rc.role[j] == ParameterRole::tied)
      throw std::invalid_argument("tie: parameter " + it.name + " is tied twice");
    rc.role[j] = ParameterRole::tied;
    tie_items.push_back(std::move(it));
  }
  for (const Item& it : tie_items) {
    const int parameter =
        static_cast<int>(std::find(names.begin(), names.end(), it.name) - names.begin());
    expr::CompileOptions co;
    // A function of the parameters only: the expression engine wants one
    // per-sample variable, so it gets one no text can name as a parameter
    // would (x is then an unknown name like any other).
    co.variables = {std::string(kTieVariable)};
    const expr::Expression expression = [&] {
      try {
        return expr::Expression::compile(it.value, co);
      } catch (const expr::Error& e) {
        throw std::invalid_argument("tie: parameter " + it.name + ": " + e.what());
      }
    }();
    std::vector<int> refs;
    for (const std::string& ref : expression.parameters()) {
      const auto at = std::find(names.begin(), names.end(), ref);
      if (at == names.end())
        throw std::invalid_argument("tie: parameter " + it.name + " = " + it.value + ": '" + ref +
                                    "' is not a parameter of the model (" + names_text(names) +
                                    ")");
      const int r = static_cast<int>(at - names.begin());
      if (r == parameter)
        throw std::invalid_argument("tie: parameter " + it.name + " = " + it.value +
                                    " refers to itself");
      if (rc.role[static_cast<std::size_t>(r)] == ParameterRole::tied)
        throw std::invalid_argument("tie: parameter " + it.name + " = " + it.value + " refers to " +
                                    ref +
                                    ", which is tied too (a tie refers to free or fixed "
                                    "parameters only)");
      refs.push_back(r);
    }
    rc.ties.push_back(Tie{parameter, expression, std::move(refs)});
  }
  return rc;
}

}  // namespace lmbatch::batch
