// The output side: one HDF5 file of results with the same leading shape as
// the input's y (see docs/format.md).
//
// The file is written under a temporary name (path + ".partial") and only
// renamed to its real name by finish(), so the target name never refers to a
// half-written file: a crash, an exception or a Ctrl-C leaves the .partial
// file behind and any earlier target untouched.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <hdf5.h>

#include "lmbatch/batch/chunk.hpp"

namespace lmbatch::io {

// A file whose results a virtual output maps (lmbatch merge --virtual):
// problems [first, end) of every result dataset come from the dataset of the
// same name and shape in path (relative paths: to the output's directory).
struct VirtualSource {
  std::string path;
  std::size_t first = 0, end = 0;
};

// Which result datasets are gzipped (level 1 after byte shuffling).
enum class Compression : unsigned char {
  none,
  // The integer datasets (nfev, njev, ier, m_valid, ipvt): 30-200x smaller for
  // next to no time. The float64 ones stay plain.
  integers,
  // Every dataset. Fitted values have noisy mantissas: ~15-20 % smaller, but
  // deflating them costs about as much as the fits of a light model, in the
  // one writing thread (docs/format.md, docs/scaling.md).
  all,
};

// "integers", "all" (or "gzip", its old name) or "none", as `lmbatch fit
// --compression` and fit_file(compression=) take it; std::invalid_argument otherwise.
Compression parse_compression(const std::string& name);

struct OutputSpec {
  std::string path;
  bool overwrite = false;                         // replace an existing file at path
  bool full_output = false;                       // also write fvec, fjac, ipvt, qtf
  std::vector<unsigned long long> leading_shape;  // of y: the problems
  int m = 0;                                      // samples per problem
  int n = 0;                                      // parameters
  std::vector<std::string> parameter_names;       // n names (or empty)
  Compression compression = Compression::integers;
  // Extra root attributes, e.g. {"model", "gaussian+linear"},
  // {"ier_messages", "..."}, {"ftol", 1.49012e-08}.
  std::vector<std::pair<std::string, std::string>> string_attributes;
  std::vector<std::pair<std::string, double>> number_attributes;
  std::vector<std::pair<std::string, long long>> integer_attributes;  // counts: maxfev, ...
  // Non-empty: every result dataset is an HDF5 virtual dataset over these
  // files, nothing is copied and write() is refused (see VirtualSource).
  std::vector<VirtualSource> virtual_sources;
};

class ResultFile {
 public:
  // Creates path + ".partial" with every dataset and the attributes. Throws
  // Error if path exists and !overwrite, if the directory is not writable, or
  // if the spec is inconsistent.
  explicit ResultFile(OutputSpec spec);
  // Without finish(): closes the .partial file and leaves it (never throws).
  ~ResultFile();
  ResultFile(ResultFile&&) noexcept;
  ResultFile& operator=(ResultFile&&) noexcept;

  const OutputSpec& spec() const noexcept;
  std::size_t problem_count() const noexcept;
  const std::string& partial_path() const noexcept;  // path + ".partial"

  // Writes the results of problems [chunk.first, chunk.first + chunk.count).
  // Throws Error if the chunk does not match the file (m, n, range, buffer
  // sizes, full output) or HDF5 fails to write.
  void write(const batch::Chunk& chunk);

  // Adds root attributes known only after the run (end time, throughput).
  // Throws Error if a name is already used or after finish().
  void add_attributes(const std::vector<std::pair<std::string, std::string>>& strings,
                      const std::vector<std::pair<std::string, double>>& numbers = {},
                      const std::vector<std::pair<std::string, long long>>& integers = {});

  // Flushes and closes the file, then renames it to path (replacing an
  // existing file only if overwrite). Throws Error on failure, leaving the
  // .partial file. After finish() the object only answers the accessors.
  void finish();
  bool finished() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a result file written by ResultFile back into chunks (lmbatch merge
// joins --part shards with it): its sizes, root attributes and the results of
// any range of problems, never a dataset whole.
class ResultFileReader {
 public:
  // Opens the file read-only and checks its layout (lmbatch_format result/1,
  // /x of shape (..., n), every result dataset with the leading shape of /x,
  // the `samples` attribute m). Throws Error naming the file and dataset.
  explicit ResultFileReader(const std::string& path);
  ~ResultFileReader();
  ResultFileReader(ResultFileReader&&) noexcept;
  ResultFileReader& operator=(ResultFileReader&&) noexcept;

  const std::string& path() const noexcept;
  const std::vector<unsigned long long>& leading_shape() const noexcept;
  std::size_t problem_count() const noexcept;
  int m() const noexcept;
  int n() const noexcept;
  bool full_output() const noexcept;
  hid_t root() const noexcept;  // for the root attributes (lmbatch/io/hdf5.hpp)

  // Reads the results of problems [first, first + count) into chunk
  // (reserved here for count problems; first and count set). Throws Error.
  void read(std::size_t first, int count, batch::Chunk& chunk);

  // --- One quantity at a time (lmbatch report), for readers that never hold a
  // whole chunk: the datasets by their layout names, "/x", "/ier", "/cost", ...

  // Values per problem of a result dataset: 1 for "/ier", n for "/x", n * n
  // for "/cov_x". Throws Error if name is not a dataset of this file.
  std::size_t values_per_problem(const std::string& dataset) const;
  // Problems [first, first + count) of one result dataset, converted to
  // double (integers exactly), row-major: count * values_per_problem(dataset)
  // values in out (resized). Throws Error naming the dataset and the range.
  void read(const std::string& dataset, std::size_t first, std::size_t count,
            std::vector<double>& out);
  // An open result dataset, for its attributes (lmbatch/io/hdf5.hpp), as
  // root() is for the file's. Throws Error if name is not a dataset of this file.
  hid_t dataset(const std::string& name) const;

  // One root attribute as stored: a string attribute's values in strings, a
  // numeric one's (scalar or array, converted to double) in numbers; of any
  // other type neither, and type names it in numpy's spelling ("compound").
  struct Attribute {
    std::string name;
    std::string type;  // "string", "float64", "int32", ...
    std::vector<std::string> strings;
    std::vector<double> numbers;
  };
  // Every root attribute, in creation order (by name where the file does not
  // track it). Unreadable ones are left out: they are for showing, not for
  // checking; the layout's own attributes were checked on opening.
  std::vector<Attribute> root_attributes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmbatch::io
