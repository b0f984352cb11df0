// Writing a problem file (the input layout of docs/format.md): /y (..., m),
// a shared /x (m), and optionally /truth (..., n) with known parameters. What
// `lmbatch generate` writes, in blocks of consecutive problems, so a file of
// any size is written in bounded memory. HDF5 stays in io.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace lmbatch::io {

struct ProblemFileSpec {
  std::string path;
  bool overwrite = false;
  std::vector<unsigned long long> leading_shape;  // the problems: (N) or (H, W) or any rank
  int m = 0;                                      // samples per problem
  int n = 0;                                      // parameters in /truth (0: no /truth)
  bool y_float32 = false;                         // store y as float32 (else float64)
  std::vector<double> x;                          // the shared /x, m values (empty: none)
  // Root attributes written by finish().
  std::vector<std::pair<std::string, std::string>> string_attributes;
  std::vector<std::pair<std::string, std::vector<std::string>>> string_array_attributes;
  std::vector<std::pair<std::string, double>> number_attributes;
  std::vector<std::pair<std::string, long long>> integer_attributes;
};

class ProblemFileWriter {
 public:
  // Creates the file with its datasets (y and truth chunked over about 1024
  // problems, shuffled and gzipped) and writes /x. Throws Error naming the
  // file if it exists without overwrite or cannot be created.
  explicit ProblemFileWriter(ProblemFileSpec spec);
  ~ProblemFileWriter();
  ProblemFileWriter(ProblemFileWriter&&) noexcept;
  ProblemFileWriter& operator=(ProblemFileWriter&&) noexcept;

  std::size_t problem_count() const noexcept;

  // Writes problems [first, first + y.size() / m): y row-major (count x m)
  // and, with n > 0, truth (count x n). Throws Error naming the dataset.
  void write(std::size_t first, std::span<const double> y, std::span<const double> truth);

  // Writes the attributes and closes the file. Throws Error on failure.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmbatch::io
