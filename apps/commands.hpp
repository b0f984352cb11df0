// The lmbatch subcommands. Each registers its options on the CLI11 app and
// returns the function that runs it (exit status).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "lmbatch/version.hpp"

namespace lmbatch::app {

using Run = std::function<int()>;

Run add_fit_command(CLI::App& app);
Run add_generate_command(CLI::App& app);
Run add_info_command(CLI::App& app);
Run add_models_command(CLI::App& app);
Run add_example_command(CLI::App& app);
Run add_report_command(CLI::App& app);
Run add_merge_command(CLI::App& app);

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInputOutputError = 1;  // bad input, unwritable output, ...
inline constexpr int kExitUsage = 2;             // bad command line

inline constexpr const char* kVersion = lmbatch::kVersion;

}  // namespace lmbatch::app
