// Model plugins (lmbatch/models/plugin_abi.h): loading a shared library and
// presenting its model as a models::CustomTerm. dlopen is OS interaction, so
// it lives in io (the outside world), not in the engine.
//
// Loading a plugin runs its code (its initialisers run inside dlopen, before
// any check can be made): only load plugins you trust.
#pragma once

#include <memory>
#include <string>

#include "lmbatch/models/model.hpp"

namespace lmbatch::io {

// Loads the plugin at `path` and checks its description (ABI version, name,
// parameter names, functions). Throws std::invalid_argument with the path and
// what is wrong. The returned term keeps the library loaded.
std::shared_ptr<const models::CustomTerm> load_model_plugin(const std::string& path);

}  // namespace lmbatch::io
