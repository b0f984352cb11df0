// lmbatch's version, as `lmbatch --version`, the result files'
// lmbatch_version attribute and the report show it. Here, at the bottom of
// the arrows, so that every room (apps, report, python) can name it.
#pragma once

namespace lmbatch {

inline constexpr const char* kVersion = "0.2.0";

}  // namespace lmbatch
