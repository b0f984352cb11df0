#include "lmbatch/io/shards.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>

#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/io/result_file.hpp"

namespace lmbatch::io {
namespace {

// Root attributes that describe one process's run, not the results: a merged
// output gets its own.
const std::set<std::string> kPerRunAttributes = {
    "lmbatch_format",    "samples",         "parameter_names", kPartAttribute,
    kPartFirstAttribute, kPartEndAttribute, "start_time",      "end_time",
    "seconds",           "threads",         "fits_per_second"};

// Problems copied per read/write: bounded memory whatever the shard size.
constexpr int kCopyChunk = 4096;

struct Shard {
  std::string path;
  ResultFileReader file;
  Part part;
  std::size_t first = 0, end = 0;
  std::string fingerprint;
};

std::size_t whole_number(const ResultFileReader& f, const char* name) {
  const auto v = hdf5::read_number_attribute(f.root(), name);
  if (!v || *v < 0 || *v != std::floor(*v) || *v > 9.0e15)
    throw Error(f.path(), "",
                std::string("is not a --part shard (attribute ") + name + " missing or invalid)");
  return static_cast<std::size_t>(*v);
}

bool gzipped(const ResultFileReader& f, const char* dataset) {
  const hdf5::Dataset ds(H5Dopen2(f.root(), dataset, H5P_DEFAULT));
  if (!ds) return false;
  const hdf5::PropList dcpl(H5Dget_create_plist(ds.get()));
  if (!dcpl) return false;
  for (int i = 0, nf = H5Pget_nfilters(dcpl.get()); i < nf; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t nvalues = 0;
    if (H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nvalues, nullptr, 0, nullptr,
                       &config) == H5Z_FILTER_DEFLATE)
      return true;
  }
  return false;
}

// The merged output is compressed as the shards were (`lmbatch fit --compression`).
Compression compression_of(const ResultFileReader& f) {
  if (gzipped(f, "/x")) return Compression::all;
  return gzipped(f, "/nfev") ? Compression::integers : Compression::none;
}

Shard open_shard(const std::string& path) {
  ResultFileReader file(path);
  const auto part = hdf5::read_string_attribute(file.root(), kPartAttribute);
  const auto fp = hdf5::read_string_attribute(file.root(), kFingerprintAttribute);
  if (!part || part->size() != 1 || !fp || fp->size() != 1)
    throw Error(path, "",
                "is not a --part shard (no part/run_fingerprint attributes): lmbatch merge "
                "joins the outputs of `lmbatch fit --part i/N`");
  Part p;
  try {
    p = parse_part((*part)[0]);
  } catch (const std::invalid_argument& e) {
    throw Error(path, "", std::string("has an invalid part attribute: ") + e.what());
  }
  const std::size_t first = whole_number(file, kPartFirstAttribute);
  const std::size_t end = whole_number(file, kPartEndAttribute);
  if (part_range(file.problem_count(), p) != std::make_pair(first, end))
    throw Error(path, "", "its part_first/part_end do not match part " + p.text());
  return Shard{path, std::move(file), p, first, end, (*fp)[0]};
}

std::string fingerprint_difference(const std::string& a, const std::string& b) {
  // First differing line, for the message.
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const std::size_t ie = std::min(a.find('\n', i), a.size());
    const std::size_t je = std::min(b.find('\n', j), b.size());
    const std::string la = a.substr(i, ie - i), lb = b.substr(j, je - j);
    if (la != lb) return "\"" + la + "\" vs \"" + lb + "\"";
    i = ie + 1;
    j = je + 1;
  }
  return "(none)";
}

}  // namespace

Part parse_part(const std::string& text) {
  const auto slash = text.find('/');
  auto number = [&](std::string_view s, const char* what) {
    std::size_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size())
      throw std::invalid_argument("--part " + text + ": " + what + " is not a whole number");
    return v;
  };
  if (slash == std::string::npos)
    throw std::invalid_argument("--part " + text + ": expected i/N, e.g. 0/4 (parts 0..N-1)");
  const std::string_view all(text);
  Part p{number(all.substr(0, slash), "i"), number(all.substr(slash + 1), "N")};
  if (p.count < 1 || p.count > (std::size_t{1} << 31))
    throw std::invalid_argument("--part " + text + ": N must be in 1..2^31");
  if (p.index >= p.count)
    throw std::invalid_argument("--part " + text + ": i must be in 0.." +
                                std::to_string(p.count - 1));
  return p;
}

std::pair<std::size_t, std::size_t> part_range(std::size_t total, const Part& part) {
  // total * i / N without overflowing: q * i + r * i / N, with r * i < N * N.
  const std::size_t q = total / part.count, r = total % part.count;
  auto at = [&](std::size_t i) { return q * i + r * i / part.count; };
  return {at(part.index), at(part.index + 1)};
}

MergeSummary merge_shards(const std::vector<std::string>& paths, const std::string& output,
                          bool overwrite, bool virtual_output) {
  if (paths.empty()) throw Error(output, "", "no shards to merge");
  std::vector<Shard> shards;
  shards.reserve(paths.size());
  for (const auto& path : paths) shards.push_back(open_shard(path));
  const Shard& ref = shards.front();
  std::vector<Shard*> by_index(ref.part.count, nullptr);
  for (Shard& s : shards) {
    auto differs = [&](const std::string& what) {
      throw Error(s.path, "",
                  "is not from the same run as " + ref.path + " (" + what +
                      "); shards merge only with the other parts of one split run");
    };
    if (s.fingerprint != ref.fingerprint)
      differs("input, model or options differ: " +
              fingerprint_difference(ref.fingerprint, s.fingerprint));
    if (s.part.count != ref.part.count) differs("part " + s.part.text() + " vs " + ref.part.text());
    if (s.file.leading_shape() != ref.file.leading_shape() || s.file.m() != ref.file.m() ||
        s.file.n() != ref.file.n() || s.file.full_output() != ref.file.full_output())
      differs("shape or full output");
    if (by_index[s.part.index])
      throw Error(
          s.path, "",
          "is part " + s.part.text() + ", already given as " + by_index[s.part.index]->path);
    by_index[s.part.index] = &s;
  }
  std::string missing;
  for (std::size_t i = 0; i < by_index.size(); ++i)
    if (!by_index[i]) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
  if (!missing.empty())
    throw Error(output, "",
                "cannot merge: part(s) " + missing + " of " + std::to_string(ref.part.count) +
                    " not given");

  OutputSpec spec;
  spec.path = output;
  spec.overwrite = overwrite;
  spec.full_output = ref.file.full_output();
  spec.compression = compression_of(ref.file);
  spec.leading_shape = ref.file.leading_shape();
  spec.m = ref.file.m();
  spec.n = ref.file.n();
  if (auto names = hdf5::read_string_attribute(ref.file.root(), "parameter_names"))
    spec.parameter_names = *names;
  for (const std::string& name : hdf5::attribute_names(ref.file.root())) {
    if (kPerRunAttributes.count(name)) continue;
    if (auto text = hdf5::read_string_attribute(ref.file.root(), name); text && text->size() == 1)
      spec.string_attributes.emplace_back(name, (*text)[0]);
    else if (auto integer = hdf5::read_integer_attribute(ref.file.root(), name))
      spec.integer_attributes.emplace_back(name, *integer);
    else if (auto number = hdf5::read_number_attribute(ref.file.root(), name))
      spec.number_attributes.emplace_back(name, *number);
  }
  spec.integer_attributes.emplace_back("merged_parts", static_cast<long long>(ref.part.count));

  MergeSummary summary;
  if (virtual_output) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir = fs::absolute(output, ec).parent_path();
    for (const Shard* s : by_index) {
      const fs::path relative = fs::absolute(s->path, ec).lexically_relative(dir);
      spec.virtual_sources.push_back({relative.string(), s->first, s->end});
      summary.problems += s->end - s->first;
      ++summary.shards;
    }
    spec.string_attributes.emplace_back("virtual_merge_of", [&] {
      std::string list;
      for (const auto& v : spec.virtual_sources) list += (list.empty() ? "" : "\n") + v.path;
      return list;
    }());
    ResultFile out(spec);
    out.finish();
    return summary;
  }
  ResultFile out(spec);
  batch::Chunk chunk;
  for (Shard* s : by_index) {
    ResultFileReader& in = s->file;
    for (std::size_t first = s->first; first < s->end; first += kCopyChunk) {
      const int count = static_cast<int>(std::min<std::size_t>(kCopyChunk, s->end - first));
      in.read(first, count, chunk);
      out.write(chunk);
      summary.problems += static_cast<std::size_t>(count);
    }
    ++summary.shards;
  }
  out.finish();
  return summary;
}

}  // namespace lmbatch::io
