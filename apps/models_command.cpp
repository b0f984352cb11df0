#include <cstdio>

#include "commands.hpp"
#include "lmbatch/models/model.hpp"

namespace lmbatch::app {

Run add_models_command(CLI::App& app) {
  app.add_subcommand("models", "list the model catalogue: formulas and parameter names");
  return [] {
    std::puts("Catalogue terms (combine with '+', repeat with '*k', e.g. gaussian*3+linear):\n");
    for (const models::Term& t : models::catalogue()) {
      std::string params;
      for (auto p : t.parameters) params += (params.empty() ? "" : ", ") + std::string(p);
      std::printf("  %-13s f = %s\n  %-13s parameters: %s\n\n", std::string(t.name).c_str(),
                  std::string(t.formula).c_str(), "", params.c_str());
    }
    return kExitOk;
  };
}

}  // namespace lmbatch::app
