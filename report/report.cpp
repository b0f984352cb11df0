#include "lmbatch/report/report.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>

#include "lmbatch/batch/status.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/leastsq/leastsq.hpp"
#include "lmbatch/report/colormap.hpp"
#include "lmbatch/report/html.hpp"
#include "lmbatch/report/plot.hpp"
#include "lmbatch/report/stats.hpp"
#include "lmbatch/version.hpp"
#include "result_data.hpp"

namespace lmbatch::report {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr double kLowQuantile = 0.005, kHighQuantile = 0.995;
constexpr int kMaxMapSide = 1024;      // displayed cells along the longer side, at most
constexpr int kTargetMapPixels = 480;  // small maps are enlarged to about this size
constexpr std::size_t kMapBudget = std::size_t{256} << 20;  // bytes of map accumulators per pass
constexpr std::size_t kChunkProblems = 65536;
constexpr int kHistogramBins = 60;
// Per-cell votes of the ier map (stride > 1): one slot per status code, then
// one for any other code.
constexpr int kVoteSlots = batch::kHighestStatus - batch::kLowestStatus + 2;
constexpr int kOtherSlot = kVoteSlots - 1;

enum class Kind { param, relerr, cost, nfev };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::param:
      return "parameter";
    case Kind::relerr:
      return "relative_stderr";
    case Kind::cost:
      return "cost";
    case Kind::nfev:
      return "nfev";
  }
  return "";
}

// ier -3: the problem had fewer valid samples than parameters, no fit was
// tried. Shown apart from the failed fits (its own colour, count and legend row).
bool is_no_data(int ier) {
  return ier == static_cast<int>(batch::ProblemStatus::too_few_samples);
}

std::string fmt(double v, const char* f = "%.6g") {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string count_text(std::size_t v) {
  return std::to_string(v);
}

std::string safe_stem(const std::string& s) {
  std::string out;
  for (char c : s)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? "_" : out;
}

std::string with_units(const std::string& name, const std::string& units) {
  return units.empty() ? name : name + " [" + units + "]";
}

struct Field {
  Kind kind = Kind::param;
  int j = 0;
  std::string name, units, stem;
  Stats ok, bad;  // finite values of converged fits; of failed fits
  // Problems per outcome: failed fits (ier not 1-4, not -3), problems with no
  // data (ier -3: not solved, no fit tried), converged fits with a NaN value.
  std::size_t failed = 0, no_data = 0, nonfinite = 0;
  double lo = 0, hi = 1;
  double below = 0, above = 0;  // converged values outside [lo, hi] (estimated from the sample)
  // map accumulators (image-shaped outputs)
  std::vector<double> sum;
  std::vector<std::uint32_t> valid;
  // histogram
  bool histogram = false, integer_bins = false;
  double hlo = 0, hhi = 1;
  std::vector<double> hist_ok, hist_failed;
  std::size_t hbelow = 0, habove = 0;

  std::string label() const {
    switch (kind) {
      case Kind::param:
        return with_units(name, units);
      case Kind::relerr:
        return "stderr / |" + name + "|";
      case Kind::cost:
        return "cost";
      case Kind::nfev:
        return "nfev";
    }
    return name;
  }
  std::string title() const {
    switch (kind) {
      case Kind::param:
        return with_units(name, units);
      case Kind::relerr:
        return "relative standard error of " + name;
      case Kind::cost:
        return "cost (sum of squared weighted residuals)";
      case Kind::nfev:
        return "nfev (residual evaluations)";
    }
    return name;
  }
  std::string quantity() const {
    return kind == Kind::relerr ? "relative stderr of " + name : name;
  }
};

struct MapGeometry {
  bool image = false;
  std::size_t H = 0, W = 0;
  int stride = 1, rows = 0, cols = 0, scale = 1;
  std::size_t cell(std::size_t p) const {
    return (p / W / stride) * static_cast<std::size_t>(cols) + (p % W) / stride;
  }
  std::size_t cells() const { return static_cast<std::size_t>(rows) * cols; }
};

struct Buffers {
  std::vector<double> ier, x, se, cost, nfev;
};

double value_of(const Field& f, const Buffers& b, std::size_t p, int n) {
  switch (f.kind) {
    case Kind::param:
      return b.x[p * n + f.j];
    case Kind::relerr:
      return b.se[p * n + f.j] / std::fabs(b.x[p * n + f.j]);
    case Kind::cost:
      return b.cost[p];
    // nfev 0: no evaluation ran (ier -3, or -4: never written): no value.
    case Kind::nfev:
      return b.nfev[p] > 0 ? b.nfev[p] : std::numeric_limits<double>::quiet_NaN();
  }
  return std::numeric_limits<double>::quiet_NaN();
}

// "code: text" entries, a text possibly continued on indented lines.
std::map<int, std::string> parse_messages(const std::string& table) {
  std::map<int, std::string> out;
  int current = std::numeric_limits<int>::min();
  std::size_t begin = 0;
  while (begin < table.size()) {
    std::size_t end = table.find('\n', begin);
    if (end == std::string::npos) end = table.size();
    const std::string line = table.substr(begin, end - begin);
    begin = end + 1;
    std::size_t k = 0;
    while (k < line.size() && line[k] == ' ') ++k;
    std::size_t d = k + (k < line.size() && line[k] == '-' ? 1 : 0);
    const std::size_t digits = d;
    while (d < line.size() && std::isdigit(static_cast<unsigned char>(line[d]))) ++d;
    if (k == 0 && d > digits && d < line.size() && line[d] == ':') {
      current = std::stoi(line.substr(k, d - k));
      std::size_t t = d + 1;
      while (t < line.size() && line[t] == ' ') ++t;
      out[current] = line.substr(t);
    } else if (current != std::numeric_limits<int>::min()) {
      const std::string rest = line.substr(k);
      if (!rest.empty()) out[current] += (out[current].empty() ? "" : " ") + rest;
    }
  }
  return out;
}

// The long text of each status code: the result file's ier_messages attribute
// (the texts as that run wrote them) first; for codes it lacks (a file of an
// earlier lmbatch, or of another writer) batch::status_text with the file's
// tolerances, else scipy's defaults.
std::map<int, std::string> status_messages(const ResultData& data) {
  auto number = [&](const char* name) -> std::optional<double> {
    const RootAttribute* a = data.attribute(name);
    return a ? a->number : std::nullopt;
  };
  leastsq::Options options;
  options.ftol = number("ftol").value_or(options.ftol);
  options.xtol = number("xtol").value_or(options.xtol);
  options.gtol = number("gtol").value_or(options.gtol);
  const RootAttribute* jacobian = data.attribute("jacobian");
  const bool analytic = jacobian && jacobian->text == "analytic";
  const auto maxfev = number("maxfev");
  const int limit =
      maxfev ? static_cast<int>(*maxfev) : options.effective_maxfev(data.n(), analytic);
  std::map<int, std::string> out;
  for (int code = batch::kLowestStatus; code <= batch::kHighestStatus; ++code)
    out[code] = batch::status_text(code, options, limit);
  if (const RootAttribute* a = data.attribute("ier_messages"))
    for (auto& [code, text] : parse_messages(a->text)) out[code] = text;
  return out;
}

std::string now_iso8601() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string shape_text(const std::vector<unsigned long long>& shape) {
  if (shape.empty()) return "one problem";
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return s;
}

void set_range(Field& f) {
  f.ok.finish();
  f.bad.finish();
  const Stats& src = f.ok.count() ? f.ok : f.bad;
  if (src.count() == 0) {
    f.lo = 0;
    f.hi = 1;
  } else if (f.kind == Kind::nfev) {
    f.lo = src.min();
    f.hi = src.max();
  } else {
    f.lo = src.quantile(kLowQuantile);
    f.hi = src.quantile(kHighQuantile);
  }
  if (!(f.hi > f.lo)) {
    const double pad = f.lo == 0 ? 0.5 : std::fabs(f.lo) * 0.05;
    f.lo -= pad;
    f.hi += pad;
  }
  // Converged values outside the colour range.
  f.below = f.ok.count_below(f.lo);
  f.above = f.ok.count_above(f.hi);
}

Rgb value_colour(const Field& f, double v) {
  return sequential((v - f.lo) / (f.hi - f.lo));
}

std::string range_note(const Field& f, bool exact) {
  const char* approx = exact ? "" : "~";
  if (f.kind == Kind::nfev) return "colours: min to max of the converged fits";
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "colours: 0.5-99.5 %% quantiles of the converged fits (%s%.0f below, %s%.0f above)",
                approx, f.below, approx, f.above);
  return buf;
}

class Reporter {
 public:
  Reporter(const std::string& result_file, const std::string& dir)
      : data_(result_file), dir_(dir), n_(data_.n()) {}

  int run();

 private:
  void plan_fields();
  void plan_geometry();
  void pass_maps(std::size_t first_field, std::size_t end_field, bool with_ier);
  void draw_field_map(Field& f);
  Rgb cell_colour(const Field& f, std::size_t cell) const;
  void draw_ier_map();
  void draw_pegged_maps();
  void pass_histograms();
  void draw_histogram(Field& f);
  void draw_ier_counts();
  std::vector<std::pair<std::string, std::string>> provenance() const;
  HtmlTable summary_table(bool& sampled) const;
  HtmlTable ier_table() const;
  void write_page();
  void write_manifest() const;
  void write_file(const std::string& name, const std::string& content) const;
  std::string result_path() const { return fs::absolute(data_.path()).lexically_normal().string(); }
  void read_chunk(std::size_t first, std::size_t count, bool x, bool se, bool cost, bool nfev);
  std::string out(const std::string& file) const { return (fs::path(dir_) / file).string(); }
  std::string message(int code) const {
    const auto it = messages_.find(code);
    return it != messages_.end() ? it->second : "unknown status";
  }
  void add_image(const std::string& section, const std::string& file, const std::string& kind,
                 const Field* f, const PlotRect& r, const std::string& caption,
                 json extra = json::object());

  ResultData data_;
  std::string dir_;
  int n_;
  MapGeometry geo_;
  std::vector<Field> fields_;
  Buffers buf_;
  std::map<int, std::size_t> ier_counts_;
  std::vector<std::uint32_t> total_, failed_, no_data_;  // per displayed cell
  std::vector<std::int16_t> ier_cell_;                   // stride 1: the code of each cell
  std::vector<std::uint32_t> ier_votes_;                 // stride > 1: counts per cell and code
  std::map<int, std::string> messages_;
  json images_ = json::array();
  std::map<std::string, std::vector<Figure>> figures_;
  std::vector<std::string> notes_;
};

void Reporter::plan_fields() {
  const auto& names = data_.parameter_names();
  const auto& units = data_.parameter_units();
  for (int j = 0; j < n_; ++j) {
    Field f;
    f.kind = Kind::param;
    f.j = j;
    f.name = names[j];
    f.units = units[j];
    f.stem = "p" + std::to_string(j) + "_" + safe_stem(names[j]);
    f.histogram = true;
    fields_.push_back(std::move(f));
  }
  // io::ResultFileReader checked that /stderr, /cost and /nfev are there.
  for (int j = 0; j < n_; ++j) {
    Field f;
    f.kind = Kind::relerr;
    f.j = j;
    f.name = names[j];
    f.stem = "p" + std::to_string(j) + "_" + safe_stem(names[j]);
    fields_.push_back(std::move(f));
  }
  for (Kind k : {Kind::cost, Kind::nfev}) {
    const std::string ds = k == Kind::cost ? "cost" : "nfev";
    Field f;
    f.kind = k;
    f.name = ds;
    f.stem = ds;
    f.histogram = true;
    fields_.push_back(std::move(f));
  }
}

void Reporter::plan_geometry() {
  const auto& shape = data_.reader().leading_shape();
  if (shape.size() != 2 || shape[0] == 0 || shape[1] == 0) {
    if (shape.size() > 2)
      notes_.push_back(
          "Maps are drawn for outputs of two leading dimensions (H x W); this one is " +
          shape_text(shape) + ": histograms and counts only.");
    return;
  }
  geo_.image = true;
  geo_.H = shape[0];
  geo_.W = shape[1];
  const std::size_t longer = std::max(geo_.H, geo_.W);
  geo_.stride = static_cast<int>((longer + kMaxMapSide - 1) / kMaxMapSide);
  geo_.rows = static_cast<int>((geo_.H + geo_.stride - 1) / geo_.stride);
  geo_.cols = static_cast<int>((geo_.W + geo_.stride - 1) / geo_.stride);
  geo_.scale = std::max(1, kTargetMapPixels / std::max(geo_.rows, geo_.cols));
  if (geo_.stride > 1)
    notes_.push_back("The maps show " + std::to_string(geo_.stride) + " x " +
                     std::to_string(geo_.stride) +
                     " problems per cell: the mean of the cell's converged values, the failure "
                     "colour where most of its fits failed, the no-data colour where most of its "
                     "problems had no data, and the most frequent ier.");
}

void Reporter::read_chunk(std::size_t first, std::size_t count, bool x, bool se, bool cost,
                          bool nfev) {
  io::ResultFileReader& file = data_.reader();
  file.read("/ier", first, count, buf_.ier);
  if (x) file.read("/x", first, count, buf_.x);
  if (se) file.read("/stderr", first, count, buf_.se);
  if (cost) file.read("/cost", first, count, buf_.cost);
  if (nfev) file.read("/nfev", first, count, buf_.nfev);
}

std::size_t chunk_problems(const MapGeometry& g) {
  if (!g.image) return kChunkProblems;
  return std::max<std::size_t>(1, kChunkProblems / g.W) * g.W;  // whole rows
}

void Reporter::pass_maps(std::size_t begin, std::size_t end, bool with_ier) {
  bool need_x = false, need_se = false, need_cost = false, need_nfev = false;
  for (std::size_t k = begin; k < end; ++k) {
    Field& f = fields_[k];
    need_x |= f.kind == Kind::param || f.kind == Kind::relerr;
    need_se |= f.kind == Kind::relerr;
    need_cost |= f.kind == Kind::cost;
    need_nfev |= f.kind == Kind::nfev;
    if (geo_.image) {
      f.sum.assign(geo_.cells(), 0.0);
      f.valid.assign(geo_.cells(), 0);
    }
  }
  if (with_ier && geo_.image) {
    total_.assign(geo_.cells(), 0);
    failed_.assign(geo_.cells(), 0);
    no_data_.assign(geo_.cells(), 0);
    if (geo_.stride == 1)
      ier_cell_.assign(geo_.cells(), 0);
    else
      ier_votes_.assign(geo_.cells() * kVoteSlots, 0);
  }
  const std::size_t P = data_.reader().problem_count(), step = chunk_problems(geo_);
  for (std::size_t first = 0; first < P; first += step) {
    const std::size_t count = std::min(step, P - first);
    read_chunk(first, count, need_x, need_se, need_cost, need_nfev);
    for (std::size_t p = 0; p < count; ++p) {
      const int code = static_cast<int>(buf_.ier[p]);
      const bool success = batch::converged(code), no_data = is_no_data(code);
      const std::size_t cell = geo_.image ? geo_.cell(first + p) : 0;
      if (with_ier) {
        ++ier_counts_[code];
        if (geo_.image) {
          ++total_[cell];
          failed_[cell] += !success && !no_data;
          no_data_[cell] += no_data;
          if (geo_.stride == 1)
            ier_cell_[cell] = static_cast<std::int16_t>(code);
          else
            ++ier_votes_[cell * kVoteSlots +
                         (code >= batch::kLowestStatus && code <= batch::kHighestStatus
                              ? code - batch::kLowestStatus
                              : kOtherSlot)];
        }
      }
      for (std::size_t k = begin; k < end; ++k) {
        Field& f = fields_[k];
        const double v = value_of(f, buf_, p, n_);
        if (no_data) {
          ++f.no_data;
        } else if (!success) {
          ++f.failed;
          if (std::isfinite(v)) f.bad.add(v);
        } else if (!std::isfinite(v)) {
          ++f.nonfinite;
        } else {
          f.ok.add(v);
          if (geo_.image) {
            f.sum[cell] += v;
            ++f.valid[cell];
          }
        }
      }
    }
  }
  for (std::size_t k = begin; k < end; ++k) {
    set_range(fields_[k]);
    if (geo_.image) draw_field_map(fields_[k]);
    fields_[k].sum = {};
    fields_[k].valid = {};
  }
}

void Reporter::add_image(const std::string& section, const std::string& file,
                         const std::string& kind, const Field* f, const PlotRect& r,
                         const std::string& caption, json extra) {
  json img = {{"file", file},
              {"kind", kind},
              {"plot", {{"x", r.x}, {"y", r.y}, {"width", r.width}, {"height", r.height}}},
              {"image", {{"width", r.image_width}, {"height", r.image_height}}}};
  if (f) {
    img["quantity"] = f->quantity();
    img["field"] = kind_name(f->kind);
    if (f->kind == Kind::param || f->kind == Kind::relerr) img["parameter"] = f->j;
  }
  if (!r.titles.empty()) {
    json titles = json::array();
    for (const PlacedText& t : r.titles)
      titles.push_back({{"text", t.text}, {"x", t.x}, {"y", t.y}, {"upwards", t.upwards}});
    img["titles"] = titles;
  }
  for (auto& [k, v] : extra.items()) img[k] = v;
  images_.push_back(img);
  figures_[section].push_back({file, caption, caption, r.image_width, r.image_height});
}

// A displayed cell of a field's map. Over several problems (stride > 1): red
// where most of them failed, white where most had no data, else the mean of
// its converged values; a cell with no converged value shows why.
Rgb Reporter::cell_colour(const Field& f, std::size_t c) const {
  if (2 * failed_[c] > total_[c]) return kFailureColour;
  if (2 * no_data_[c] > total_[c]) return kNoDataColour;
  if (f.valid[c] > 0) return value_colour(f, f.sum[c] / f.valid[c]);
  if (failed_[c] > 0) return kFailureColour;
  return no_data_[c] > 0 ? kNoDataColour : kNanColour;
}

void Reporter::draw_field_map(Field& f) {
  MapPicture m;
  m.rows = geo_.rows;
  m.cols = geo_.cols;
  m.scale = geo_.scale;
  m.stride = geo_.stride;
  m.full_rows = geo_.H;
  m.full_cols = geo_.W;
  m.pixels.resize(geo_.cells());
  for (std::size_t c = 0; c < geo_.cells(); ++c) m.pixels[c] = cell_colour(f, c);
  m.title = f.title();
  m.subtitle = std::to_string(geo_.H) + " x " + std::to_string(geo_.W) + " problems, " +
               std::to_string(f.ok.count()) + " converged; " + range_note(f, f.ok.exact());
  m.bar = MapPicture::Bar{f.lo, f.hi, f.label(), f.kind == Kind::nfev};
  const struct {
    const char* key;
    Rgb colour;
    std::size_t count;
    const char* text;
  } outcomes[] = {
      {"failed", kFailureColour, f.failed, "failed fit or never written (ier not 1-4, not -3)"},
      {"no_data", kNoDataColour, f.no_data,
       "no data: fewer valid samples than parameters, not solved (ier -3)"},
      {"nonfinite", kNanColour, f.nonfinite, "converged, but the value is NaN or infinite"},
  };
  json legend = json::array();
  for (const auto& o : outcomes) {
    m.legend.push_back({o.colour, std::string(o.text) + " (" + count_text(o.count) + " problems)"});
    legend.push_back(
        {{"key", o.key}, {"count", o.count}, {"colour", {o.colour.r, o.colour.g, o.colour.b}}});
  }
  const std::string prefix = f.kind == Kind::param    ? "map_"
                             : f.kind == Kind::relerr ? "relerr_"
                                                      : "map_";
  const std::string file = prefix + f.stem + ".png";
  const PlotRect r = draw_map(m, out(file));
  const char* kind = f.kind == Kind::param    ? "map"
                     : f.kind == Kind::relerr ? "relerr_map"
                     : f.kind == Kind::cost   ? "cost_map"
                                              : "nfev_map";
  add_image(f.kind == Kind::relerr ? "Maps: relative standard errors" : "Maps", file, kind, &f, r,
            "map of " + f.title(),
            {{"range", {f.lo, f.hi}},
             {"stride", geo_.stride},
             {"scale", geo_.scale},
             {"legend", legend}});
}

void Reporter::draw_ier_map() {
  MapPicture m;
  m.rows = geo_.rows;
  m.cols = geo_.cols;
  m.scale = geo_.scale;
  m.stride = geo_.stride;
  m.full_rows = geo_.H;
  m.full_cols = geo_.W;
  m.pixels.resize(geo_.cells());
  for (std::size_t c = 0; c < geo_.cells(); ++c) {
    if (geo_.stride == 1) {
      m.pixels[c] = ier_colour(ier_cell_[c]);
    } else {
      int best = 0;
      for (int k = 1; k < kVoteSlots; ++k)
        if (ier_votes_[c * kVoteSlots + k] > ier_votes_[c * kVoteSlots + best]) best = k;
      m.pixels[c] = ier_colour(best == kOtherSlot ? 1000 : best + batch::kLowestStatus);
    }
  }
  std::size_t ok = 0;
  for (const auto& [code, count] : ier_counts_) ok += batch::converged(code) ? count : 0;
  m.title = "ier (MINPACK status, scipy.optimize.leastsq's ier)";
  m.subtitle = std::to_string(geo_.H) + " x " + std::to_string(geo_.W) + " problems, " +
               std::to_string(ok) + " converged (ier 1-4)";
  for (const auto& [code, count] : ier_counts_) {
    m.legend.push_back({ier_colour(code), "ier " + std::to_string(code) + " (" + count_text(count) +
                                              " problems): " + message(code)});
  }
  const PlotRect r = draw_map(m, out("map_ier.png"));
  json legend = json::array();
  for (const auto& [code, count] : ier_counts_) {
    const Rgb c = ier_colour(code);
    legend.push_back({{"ier", code}, {"count", count}, {"colour", {c.r, c.g, c.b}}});
  }
  add_image("Maps", "map_ier.png", "ier_map", nullptr, r, "map of ier with scipy's messages",
            {{"stride", geo_.stride}, {"scale", geo_.scale}, {"legend", legend}});
}

// The /pegged codes (docs/constraints.md): -1 at the lower bound, +1 at the
// upper, 0 free, 2 fixed or tied; at index code + 1.
constexpr int kPeggedCodes = 4;
struct PeggedCode {
  int code;
  Rgb colour;
  const char* text;
};
constexpr PeggedCode kPegged[kPeggedCodes] = {
    {-1, {0, 114, 178}, "at its lower bound"},  // blue
    {0, {225, 225, 225}, "free"},               // pale grey
    {1, {213, 94, 0}, "at its upper bound"},    // vermillion
    {2, {60, 60, 60}, "fixed or tied (held)"},  // dark grey
};

// One map per parameter of where it is pegged at a bound or held, for a run
// with constraints (a /pegged not all 0); over several problems per cell the
// most frequent code. Nothing for older files (no /pegged) or a run without
// constraints, so their reports are as before.
void Reporter::draw_pegged_maps() {
  io::ResultFileReader& file = data_.reader();
  if (n_ <= 0 || H5Lexists(file.root(), "pegged", H5P_DEFAULT) <= 0) return;
  const std::size_t cells = geo_.cells(), nn = static_cast<std::size_t>(n_);
  std::vector<std::uint32_t> votes(nn * cells * kPeggedCodes, 0);
  std::vector<std::size_t> totals(nn * kPeggedCodes, 0);
  std::vector<double> codes;
  const std::size_t P = file.problem_count(), step = chunk_problems(geo_);
  for (std::size_t first = 0; first < P; first += step) {
    const std::size_t count = std::min(step, P - first);
    file.read("/pegged", first, count, codes);
    for (std::size_t p = 0; p < count; ++p) {
      const std::size_t cell = geo_.cell(first + p);
      for (std::size_t j = 0; j < nn; ++j) {
        const int slot = std::clamp(static_cast<int>(codes[p * nn + j]), -1, 2) + 1;
        ++votes[(j * cells + cell) * kPeggedCodes + static_cast<std::size_t>(slot)];
        ++totals[j * kPeggedCodes + static_cast<std::size_t>(slot)];
      }
    }
  }
  std::size_t constrained = 0;
  for (std::size_t j = 0; j < nn; ++j) constrained += P - totals[j * kPeggedCodes + 1];
  if (constrained == 0) return;
  for (std::size_t j = 0; j < nn; ++j) {
    MapPicture m;
    m.rows = geo_.rows;
    m.cols = geo_.cols;
    m.scale = geo_.scale;
    m.stride = geo_.stride;
    m.full_rows = geo_.H;
    m.full_cols = geo_.W;
    m.pixels.resize(cells);
    for (std::size_t c = 0; c < cells; ++c) {
      const std::uint32_t* v = &votes[(j * cells + c) * kPeggedCodes];
      int best = 1;  // free wins a tie
      for (int k = 0; k < kPeggedCodes; ++k)
        if (v[k] > v[best]) best = k;
      m.pixels[c] = kPegged[best].colour;
    }
    const Field& f = fields_[j];  // the parameter's own field (plan_fields: first n)
    m.title = "pegged: " + f.name;
    m.subtitle = std::to_string(geo_.H) + " x " + std::to_string(geo_.W) + " problems";
    json legend = json::array();
    for (int k = 0; k < kPeggedCodes; ++k) {
      const std::size_t count = totals[j * kPeggedCodes + static_cast<std::size_t>(k)];
      const PeggedCode& pc = kPegged[k];
      m.legend.push_back({pc.colour, "pegged " + std::to_string(pc.code) + ": " + pc.text + " (" +
                                         count_text(count) + " problems)"});
      legend.push_back({{"pegged", pc.code},
                        {"count", count},
                        {"colour", {pc.colour.r, pc.colour.g, pc.colour.b}}});
    }
    const std::string name = "pegged_" + f.stem + ".png";
    const PlotRect r = draw_map(m, out(name));
    add_image("Maps: pegged parameters", name, "pegged_map", &f, r,
              "map of where " + f.name + " is at a bound or held (/pegged)",
              {{"stride", geo_.stride}, {"scale", geo_.scale}, {"legend", legend}});
  }
}

void Reporter::pass_histograms() {
  bool need_x = false, need_cost = false, need_nfev = false;
  for (Field& f : fields_) {
    if (!f.histogram) continue;
    need_x |= f.kind == Kind::param;
    need_cost |= f.kind == Kind::cost;
    need_nfev |= f.kind == Kind::nfev;
    int bins = kHistogramBins;
    if (f.kind == Kind::nfev) {
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      for (const Stats* s : {&f.ok, &f.bad})
        if (s->count()) {
          lo = std::min(lo, s->min());
          hi = std::max(hi, s->max());
        }
      if (!(hi >= lo)) lo = hi = 0;
      if (hi - lo <= 120) {
        f.integer_bins = true;
        f.hlo = std::floor(lo) - 0.5;
        f.hhi = std::ceil(hi) + 0.5;
        bins = static_cast<int>(f.hhi - f.hlo);
      } else {
        f.hlo = lo;
        f.hhi = hi;
      }
    } else {
      f.hlo = f.lo;
      f.hhi = f.hi;
    }
    f.hist_ok.assign(bins, 0.0);
    f.hist_failed.assign(bins, 0.0);
  }
  const std::size_t P = data_.reader().problem_count(), step = chunk_problems(geo_);
  for (std::size_t first = 0; first < P; first += step) {
    const std::size_t count = std::min(step, P - first);
    read_chunk(first, count, need_x, false, need_cost, need_nfev);
    for (Field& f : fields_) {
      if (!f.histogram) continue;
      const std::size_t bins = f.hist_ok.size();
      const double width = f.hhi - f.hlo;
      for (std::size_t p = 0; p < count; ++p) {
        const int code = static_cast<int>(buf_.ier[p]);
        const double v = value_of(f, buf_, p, n_);
        if (is_no_data(code) || !std::isfinite(v)) continue;
        const bool success = batch::converged(code);
        if (v < f.hlo) {
          ++f.hbelow;
          continue;
        }
        if (v > f.hhi) {
          ++f.habove;
          continue;
        }
        const std::size_t b =
            std::min(bins - 1, static_cast<std::size_t>((v - f.hlo) / width * bins));
        (success ? f.hist_ok : f.hist_failed)[b] += 1;
      }
    }
  }
  for (Field& f : fields_)
    if (f.histogram) draw_histogram(f);
}

void Reporter::draw_histogram(Field& f) {
  HistogramPicture h;
  h.lo = f.hlo;
  h.hi = f.hhi;
  h.ok = f.hist_ok;
  h.failed = f.hist_failed;
  h.colour_by_value = f.kind != Kind::nfev;
  h.integer_ticks = f.integer_bins;
  h.title = "histogram of " + f.title();
  h.xlabel = f.label();
  std::size_t failed_drawn = 0;
  for (double v : f.hist_failed) failed_drawn += static_cast<std::size_t>(v);
  h.subtitle =
      std::to_string(f.ok.count()) + " converged" +
      (failed_drawn ? ", " + std::to_string(failed_drawn) + " failed (red, stacked)" : "") +
      (f.kind == Kind::nfev ? "" : "; range: 0.5-99.5 % quantiles") + "; " +
      std::to_string(f.hbelow) + " below, " + std::to_string(f.habove) + " above";
  const std::string file = "hist_" + f.stem + ".png";
  const PlotRect r = report::draw_histogram(h, out(file));
  add_image("Histograms", file, "histogram", &f, r, "histogram of " + f.title(),
            {{"range", {f.hlo, f.hhi}},
             {"bins", f.hist_ok.size()},
             {"counts_converged", f.hist_ok},
             {"counts_failed", f.hist_failed},
             {"below", f.hbelow},
             {"above", f.habove}});
}

void Reporter::draw_ier_counts() {
  std::vector<CountBar> bars;
  double total = 0, ok = 0;
  for (const auto& [code, count] : ier_counts_) {
    bars.push_back({batch::status_label(code), static_cast<double>(count), ier_colour(code)});
    total += count;
    ok += batch::converged(code) ? count : 0;
  }
  char sub[128];
  std::snprintf(sub, sizeof sub, "%.0f problems, %.0f converged (ier 1-4, %.2f %%)", total, ok,
                total > 0 ? 100 * ok / total : 0.0);
  const PlotRect r = draw_counts(bars, total, "ier counts", sub, out("ier_counts.png"));
  add_image("Status", "ier_counts.png", "ier_counts", nullptr, r, "problems per ier");
}

// The run's provenance, from the root attributes (docs/report.md, "The page").
std::vector<std::pair<std::string, std::string>> Reporter::provenance() const {
  auto attr = [&](const std::string& name) -> std::string {
    const RootAttribute* a = data_.attribute(name);
    return a ? a->text : "(not recorded)";
  };
  std::string options;
  for (const auto& a : data_.attributes()) {
    static const std::set<std::string> keys = {"ftol",   "xtol",   "gtol",    "maxfev",
                                               "epsfcn", "factor", "jacobian"};
    if (keys.count(a.name) || a.name.rfind("diag_", 0) == 0 || a.name.rfind("x0_value_", 0) == 0)
      options += (options.empty() ? "" : ", ") + a.name + "=" + a.text;
  }
  std::string datasets;
  for (const char* k : {"y", "x", "sigma", "x0"})
    if (const RootAttribute* a = data_.attribute(k))
      datasets += (datasets.empty() ? "" : ", ") + std::string(k) + ": " + a->text;
  std::string names;
  for (int j = 0; j < n_; ++j)
    names += (j ? ", " : "") + with_units(data_.parameter_names()[j], data_.parameter_units()[j]);
  const io::ResultFileReader& file = data_.reader();
  return {
      {"result file", result_path()},
      {"model", attr("model")},
      {"parameters",
       names + (data_.units_source().empty() ? " (no units recorded)"
                                             : " (units from " + data_.units_source() + ")")},
      {"problems",
       shape_text(file.leading_shape()) + " (" + std::to_string(file.problem_count()) + ")"},
      {"input file", attr("input_file")},
      {"input datasets", datasets.empty() ? "(not recorded)" : datasets},
      {"options", options.empty() ? "(not recorded)" : options},
      {"fitted by", "lmbatch " + attr("lmbatch_version")},
      {"start time", attr("start_time")},
      {"end time", attr("end_time")},
      {"seconds", attr("seconds")},
      {"fits per second", attr("fits_per_second")},
      {"threads", attr("threads")},
      {"report", std::string("lmbatch ") + lmbatch::kVersion + " report, written " + now_iso8601()},
  };
}

// One row per quantity: its outcomes and the statistics of its converged
// values. sampled: whether some median comes from a sample.
HtmlTable Reporter::summary_table(bool& sampled) const {
  HtmlTable t;
  t.header = {"quantity", "converged", "failed", "no data", "NaN (converged)",
              "mean",     "std",       "min",    "median",  "max"};
  t.numeric = {false, true, true, true, true, true, true, true, true, true};
  sampled = false;
  for (const Field& f : fields_) {
    t.rows.push_back({f.kind == Kind::param ? with_units(f.name, f.units) : f.quantity(),
                      count_text(f.ok.count()), count_text(f.failed), count_text(f.no_data),
                      count_text(f.nonfinite), fmt(f.ok.mean()), fmt(f.ok.stddev()),
                      fmt(f.ok.min()), fmt(f.ok.quantile(0.5)), fmt(f.ok.max())});
    sampled |= !f.ok.exact();
  }
  return t;
}

// Problems per ier with the file's message for each.
HtmlTable Reporter::ier_table() const {
  HtmlTable t;
  t.header = {"ier", "problems", "%", "message"};
  t.numeric = {true, true, true, false};
  double total = 0;
  for (const auto& [code, count] : ier_counts_) total += count;
  for (const auto& [code, count] : ier_counts_)
    t.rows.push_back({std::to_string(code), count_text(count),
                      fmt(total > 0 ? 100.0 * count / total : 0.0, "%.2f"), message(code)});
  return t;
}

void Reporter::write_page() {
  PageContent page;
  page.title = "lmbatch report: " + fs::path(data_.path()).filename().string();
  page.subtitle = result_path();
  page.provenance = provenance();
  bool sampled = false;
  page.summary = summary_table(sampled);
  page.notes = notes_;
  page.notes.push_back(
      "Statistics, colour ranges and histograms use the converged fits (ier 1-4) with finite "
      "values; failed fits are drawn in red in the maps and stacked in red in the histograms; "
      "problems with no data (ier -3, fewer valid samples than parameters) are white in the maps "
      "and counted apart.");
  if (sampled)
    page.notes.push_back(
        "Medians and quantile ranges come from a uniform sample of 131072 values "
        "per quantity (mean, std, min and max are exact).");
  page.notes.push_back(
      "Maps: row 0 at the top, column 0 on the left; problem p is at row p / W, "
      "column p % W.");
  page.ier = ier_table();
  for (const auto& a : data_.attributes()) page.attributes.emplace_back(a.name, a.text);
  for (const char* section : {"Maps", "Maps: relative standard errors", "Maps: pegged parameters",
                              "Histograms", "Status"}) {
    auto it = figures_.find(section);
    if (it != figures_.end()) page.sections.emplace_back(section, it->second);
  }
  write_file("index.html", render_html(page));
}

// report.json: what the tests and scripts read (docs/report.md).
void Reporter::write_manifest() const {
  const io::ResultFileReader& file = data_.reader();
  json manifest = {{"result_file", result_path()},
                   {"leading_shape", file.leading_shape()},
                   {"problems", file.problem_count()},
                   {"n", n_},
                   {"parameter_names", data_.parameter_names()},
                   {"parameter_units", data_.parameter_units()},
                   {"images", images_}};
  json counts = json::object();
  for (const auto& [code, count] : ier_counts_) counts[std::to_string(code)] = count;
  manifest["ier_counts"] = counts;
  json fields = json::array();
  for (const Field& f : fields_)
    fields.push_back({{"quantity", f.quantity()},
                      {"kind", kind_name(f.kind)},
                      {"converged", f.ok.count()},
                      {"failed", f.failed},
                      {"no_data", f.no_data},
                      {"nonfinite", f.nonfinite},
                      {"mean", f.ok.mean()},
                      {"min", f.ok.min()},
                      {"median", f.ok.quantile(0.5)},
                      {"max", f.ok.max()},
                      {"range", {f.lo, f.hi}}});
  manifest["fields"] = fields;
  write_file("report.json", manifest.dump(2) + "\n");
}

void Reporter::write_file(const std::string& name, const std::string& content) const {
  std::ofstream stream(out(name));
  stream << content;
  stream.close();
  if (!stream) throw std::runtime_error(out(name) + ": cannot write");
}

// Removes the pictures of an earlier report in dir (those its manifest lists).
void remove_previous(const fs::path& dir) {
  std::ifstream in(dir / "report.json");
  if (!in) return;
  try {
    const json old = json::parse(in);
    for (const auto& img : old.at("images")) {
      const std::string file = img.at("file").get<std::string>();
      if (file.find('/') != std::string::npos || file.rfind(".png") != file.size() - 4) continue;
      std::error_code ec;
      fs::remove(dir / file, ec);
    }
  } catch (const std::exception&) {
    // not ours, or damaged: leave it
  }
}

int Reporter::run() {
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  const fs::path dir(dir_);
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw std::runtime_error(dir_ + ": exists and is not a directory");
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir_ + ": cannot create the directory (" + ec.message() + ")");
  remove_previous(dir);

  messages_ = status_messages(data_);

  plan_fields();
  plan_geometry();
  spdlog::info("report of {}: {} problems ({}), {} parameters", data_.path(),
               data_.reader().problem_count(), shape_text(data_.reader().leading_shape()), n_);
  // Pass 1, in groups of fields whose map accumulators fit the budget.
  const std::size_t per_field = geo_.image ? geo_.cells() * 12 : 0;
  const std::size_t group =
      per_field ? std::max<std::size_t>(1, kMapBudget / per_field) : fields_.size();
  if (fields_.empty()) pass_maps(0, 0, true);
  for (std::size_t begin = 0; begin < fields_.size(); begin += group)
    pass_maps(begin, std::min(fields_.size(), begin + group), begin == 0);
  if (geo_.image) draw_ier_map();
  if (geo_.image) draw_pegged_maps();
  total_ = {};
  failed_ = {};
  no_data_ = {};
  ier_cell_ = {};
  ier_votes_ = {};
  pass_histograms();
  draw_ier_counts();
  write_page();
  write_manifest();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("wrote {} ({} images) in {:.2f} s", out("index.html"), images_.size(), seconds);
  return 0;
}

}  // namespace

int write_report(const std::string& result_file, const std::string& dir) {
  Reporter r(result_file, dir);
  return r.run();
}

}  // namespace lmbatch::report
