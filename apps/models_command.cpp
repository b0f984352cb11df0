#include <cstdio>

#include "commands.hpp"
#include "lmbatch/models/model.hpp"

namespace lmbatch::app {

Run add_models_command(CLI::App& app) {
  app.add_subcommand("models",
                     "list the model catalogue (formulas, parameter names) and expression models");
  return [] {
    std::puts("Catalogue terms (combine with '+', repeat with '*k', e.g. gaussian*3+linear):\n");
    for (const models::Term& t : models::catalogue()) {
      std::string params;
      for (auto p : t.parameters) params += (params.empty() ? "" : ", ") + std::string(p);
      std::printf("  %-13s f = %s\n  %-13s parameters: %s\n\n", std::string(t.name).c_str(),
                  std::string(t.formula).c_str(), "", params.c_str());
    }
    // Kept short: docs/models.md has the grammar, functions and Jacobian rules.
    std::puts(
        "Expressions (any formula; see docs/models.md):\n"
        "\n"
        "  --model 'expr: a*exp(-x/tau) + c'        an expression term; it runs to the end of\n"
        "                                           the specification, so it comes last:\n"
        "  --model 'gaussian + expr: c0 + c1*x'     catalogue terms plus an expression\n"
        "  --model 'expr{a*x^2} + gaussian'         an expression in braces can stand anywhere\n"
        "\n"
        "  x (or x1, x2, ... for several predictors per sample) is the sample position; pi and e\n"
        "  are constants; every other name is a parameter, in order of first appearance, or in\n"
        "  the order --params gives (--params c,a,tau), or 'expr(c, a, tau): ...'. Operators\n"
        "  + - * / ^ (or **), functions exp log log10 sqrt abs sin cos tan asin acos atan sinh\n"
        "  cosh tanh erf erfc atan2 pow min max. The Jacobian is symbolic (exact). Expressions\n"
        "  have no starting-value estimate: give --x0 or --x0-values.");
    return kExitOk;
  };
}

}  // namespace lmbatch::app
