// What a file-to-file fit records about itself: the result file's root
// attributes (docs/format.md) and the fingerprint that a --resume or a merge
// of --part shards must match. One place, so that `lmbatch fit` and the
// Python module's fit_file write the same file.
#pragma once

#include <string>
#include <vector>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/io/journal.hpp"
#include "lmbatch/io/problem_file.hpp"
#include "lmbatch/io/result_file.hpp"

namespace lmbatch::io {

struct RunDescription {
  std::string version;            // lmbatch's
  InputSpec input;                // the input file and its datasets
  std::vector<double> x0_values;  // starting values for every problem (or empty)
  std::string model;              // the model's specification
  std::vector<std::string> parameter_names;
  std::vector<std::string> plugin_paths;  // --model-plugin libraries
  batch::BatchOptions options;            // the options that decide the results are recorded
  Compression compression = Compression::integers;  // of the result datasets
};

// "/abs/path/in.h5 (size 1234 bytes, modified 1701234567.123456789)": a
// changed file changes its identity.
std::string file_identity(const std::string& path);

// Everything that decides the results, exactly (doubles as hex floats).
Fingerprint run_fingerprint(const RunDescription& run);

// The output layout and root attributes of a run over `input`: model,
// options, datasets, scipy's ier messages, start time and run_fingerprint.
OutputSpec output_spec(const RunDescription& run, const ProblemFile& input,
                       const std::string& output_path, bool overwrite);

// "2026-11-30T12:34:56Z".
std::string now_iso8601();

}  // namespace lmbatch::io
