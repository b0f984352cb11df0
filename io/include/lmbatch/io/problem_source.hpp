// A ProblemFile as the batch engine's problem source: the one adapter the CLI
// and the Python module share. x0 values given by the caller (--x0-values,
// fit_file(x0_values=...)) override the file's; the caller opens the
// ProblemFile with InputSpec::x0 = kNoDataset then, so that a file's default
// /x0 is neither read nor checked.
#pragma once

#include <vector>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/io/problem_file.hpp"

namespace lmbatch::io {

class FileProblemSource final : public batch::ProblemSource {
 public:
  FileProblemSource(ProblemFile& file, const std::vector<double>& x0_values)
      : file_(file), x0_values_(x0_values) {}
  std::size_t problem_count() const override { return file_.problem_count(); }
  int samples() const override { return file_.m(); }
  void read(std::size_t first, int count, batch::Chunk& chunk) override {
    file_.read(first, count, chunk);
    if (!x0_values_.empty()) {
      chunk.x0_layout = batch::Layout::shared;
      chunk.x0.assign(x0_values_.begin(), x0_values_.end());
    }
  }

 private:
  ProblemFile& file_;
  const std::vector<double>& x0_values_;
};

}  // namespace lmbatch::io
