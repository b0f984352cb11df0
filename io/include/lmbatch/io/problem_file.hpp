// The input side: an HDF5 file of many small fitting problems (see
// docs/format.md). ProblemFile checks the layout once when opened and then
// reads consecutive chunks of problems as hyperslabs, converted to double by
// HDF5, so memory stays bounded by the chunk size whatever the file size.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "lmbatch/batch/chunk.hpp"

namespace lmbatch::io {

// Names an input away: `--x none` leaves x out even where the file has /x.
inline constexpr const char* kNoDataset = "none";

// Where the inputs are, as asked for. Dataset paths are absolute within the
// file. y defaults to /y. For x, sigma and x0 an empty string asks for the
// default: /x, /sigma, /x0 when the file has a link of that name, else
// absent; kNoDataset ("none") makes the input absent whatever the file
// holds. Absent means x: 0..m-1, sigma: 1, x0: the model's estimate. A
// caller that supplies the starting values itself (--x0-values) sets x0 to
// kNoDataset, so that a file's /x0 is neither read nor checked.
struct InputSpec {
  std::string path;
  std::string y = "/y";
  std::string x, sigma, x0;
  // Per-problem constraints (batch/constraints.hpp), shaped like x0: bounds
  // (NaN or +-inf: none on that side) and a mask of held parameters
  // (non-zero: held at its starting value). Read only when named (empty:
  // absent; no default dataset).
  std::string lower, upper, fixed;
};

// Which inputs of ProblemFile::spec() were taken by default rather than
// named (for "x: /x (default)" in the log).
struct DefaultedInputs {
  bool x = false, sigma = false, x0 = false;
};

class ProblemFile {
 public:
  // Opens and validates the file: y numeric with rank >= 1 (its last
  // dimension is m, the leading ones number the problems); x and sigma of
  // shape (m) or y's shape; x also (m, d) or y's shape + (d), d >= 2
  // predictors per sample; x0 of shape (n_params) or leading shape +
  // (n_params). Shared x/sigma/x0 are read here once. Throws Error.
  // Defaults are resolved first (see InputSpec); an input taken by default
  // is checked like a named one, and its errors say how to leave it out.
  // n_params = 0 means no model is known (`lmbatch info`): x0 must then not
  // be named (std::invalid_argument otherwise, as for n_params < 0); a
  // default /x0 is recorded in spec() but neither opened nor checked, and
  // x0_layout() stays absent.
  ProblemFile(InputSpec spec, int n_params);
  ~ProblemFile();
  ProblemFile(ProblemFile&&) noexcept;
  ProblemFile& operator=(ProblemFile&&) noexcept;

  // The inputs as resolved: y, and x, sigma, x0 each a dataset path or empty
  // where absent (never kNoDataset). What the run description and its
  // fingerprint record. Not a request: passing it to another ProblemFile
  // would take defaults again where it is empty.
  const InputSpec& spec() const noexcept;
  const DefaultedInputs& defaulted() const noexcept;
  // "x: /x (default), sigma: absent (1), x0: /p0": the resolved inputs, for
  // the log (x0 only where the file gives it).
  std::string inputs_text() const;
  // Leading dimensions of y (empty for a 1-D y: one problem).
  const std::vector<unsigned long long>& leading_shape() const noexcept;
  std::size_t problem_count() const noexcept;  // product of leading_shape()
  int m() const noexcept;                      // samples per problem
  int n() const noexcept;                      // parameters (as given)
  // Predictors per sample: d >= 2 for an x with a trailing predictor
  // dimension (x1..xd), else 1. The model must accept it
  // (models::Model::check_predictors).
  int predictors() const noexcept;
  batch::Layout x_layout() const noexcept;
  batch::Layout sigma_layout() const noexcept;
  batch::Layout x0_layout() const noexcept;
  const std::string& y_type() const noexcept;  // e.g. "float32"

  // Reads problems [first, first + count) into chunk: sets first, count, m,
  // n, predictors, y (count x m), the layouts and x/sigma/x0 (shared: m or n
  // values, m x d for x; per problem: count x m or count x n, count x m x d
  // for x). Buffers only grow, so a chunk
  // reserved for the largest count is reused without allocating. Checks that
  // sigma is finite and > 0 wherever the sample is present (y and x finite)
  // and x0 finite; throws Error with the problem index otherwise.
  void read(std::size_t first, int count, batch::Chunk& chunk);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A human-readable summary of every dataset in a file (path, shape, type,
// storage) and the root attributes, for `lmbatch info`. Throws Error if the
// file cannot be opened.
std::string describe(const std::string& path);

}  // namespace lmbatch::io
