// `lmbatch report` end to end: result files with a known pattern, the PNGs
// decoded with Cairo's reader and their pixels compared with the pattern.
#include <cairo.h>
#include <hdf5.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "io/h5_test_files.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/report/colormap.hpp"

namespace fs = std::filesystem;
namespace h5 = lmbatch::io::hdf5;
namespace rp = lmbatch::report;
using json = nlohmann::json;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("lmbatch_report_" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

struct Run {
  int status;
  std::string output;
};

Run run_lmbatch(const std::string& args, const TempDir& dir) {
  const std::string log = dir.file("log.txt");
  const std::string cmd = std::string(LMBATCH_EXE) + " " + args + " > " + log + " 2>&1";
  const int raw = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, text.str()};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A result file in the layout of docs/format.md (lmbatch_format result/1),
// written directly: the report reads it through io::ResultFileReader, which
// checks every dataset. The ones the report does not show are written as a
// run that never filled them would leave them (NaN, 0).
struct Result {
  static constexpr int kSamples = 16;  // m
  std::vector<hsize_t> shape;          // leading
  int n = 0;
  std::vector<std::string> names;
  std::vector<double> x, se, cost, nfev, ier;  // flat, row-major
  std::vector<std::pair<std::string, std::string>> strings;
  std::vector<std::pair<std::string, double>> numbers;

  std::size_t problems() const {
    std::size_t p = 1;
    for (auto d : shape) p *= d;
    return p;
  }
  void write(const std::string& path) const {
    h5::File f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    REQUIRE(f.valid());
    auto put = [&](const char* name, const std::vector<double>& v, hid_t file_type,
                   std::vector<hsize_t> dims) {
      h5::Dataspace space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
      h5::Dataset d(
          H5Dcreate2(f.get(), name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      REQUIRE(d.valid());
      REQUIRE(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0);
    };
    auto with_n = shape;
    with_n.push_back(static_cast<hsize_t>(n));
    put("x", x, H5T_IEEE_F64LE, with_n);
    put("stderr", se, H5T_IEEE_F64LE, with_n);
    put("cost", cost, H5T_IEEE_F64LE, shape);
    put("nfev", nfev, H5T_STD_I32LE, shape);
    put("ier", ier, H5T_STD_I16LE, shape);
    auto with_nn = with_n;
    with_nn.push_back(static_cast<hsize_t>(n));
    put("cov_x", std::vector<double>(problems() * n * n, kNaN), H5T_IEEE_F64LE, with_nn);
    put("njev", std::vector<double>(problems(), 0), H5T_STD_I32LE, shape);
    put("m_valid", std::vector<double>(problems(), kSamples), H5T_STD_I32LE, shape);
    REQUIRE(h5::write_string_attribute(f.get(), "lmbatch_format", {"result/1"}, true));
    REQUIRE(h5::write_number_attribute(f.get(), "samples", kSamples));
    REQUIRE(h5::write_string_attribute(f.get(), "parameter_names", names, false));
    for (const auto& [k, v] : strings) REQUIRE(h5::write_string_attribute(f.get(), k, {v}, true));
    for (const auto& [k, v] : numbers) REQUIRE(h5::write_number_attribute(f.get(), k, v));
  }
};

// A decoded PNG.
class Png {
 public:
  explicit Png(const std::string& path) : s_(cairo_image_surface_create_from_png(path.c_str())) {
    REQUIRE(cairo_surface_status(s_) == CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(s_);
  }
  ~Png() { cairo_surface_destroy(s_); }
  int width() const { return cairo_image_surface_get_width(s_); }
  int height() const { return cairo_image_surface_get_height(s_); }
  rp::Rgb at(int x, int y) const {
    REQUIRE(x >= 0);
    REQUIRE(y >= 0);
    REQUIRE(x < width());
    REQUIRE(y < height());
    const unsigned char* row = cairo_image_surface_get_data(s_) +
                               static_cast<std::ptrdiff_t>(y) * cairo_image_surface_get_stride(s_);
    const auto px = reinterpret_cast<const std::uint32_t*>(row)[x];
    return {static_cast<std::uint8_t>(px >> 16), static_cast<std::uint8_t>(px >> 8),
            static_cast<std::uint8_t>(px)};
  }

 private:
  cairo_surface_t* s_;
};

const json& image(const json& manifest, const std::string& file) {
  for (const auto& img : manifest.at("images"))
    if (img.at("file") == file) return img;
  FAIL("no image " << file << " in the manifest");
  throw 0;
}

// The cell (r, c) of a map: the colour at its centre.
rp::Rgb cell(const Png& png, const json& img, int r, int c) {
  const int scale = img.at("scale"), stride = img.at("stride");
  const auto& plot = img.at("plot");
  return png.at(plot.at("x").get<int>() + (c / stride) * scale + scale / 2,
                plot.at("y").get<int>() + (r / stride) * scale + scale / 2);
}

std::string text(rp::Rgb c) {
  return "(" + std::to_string(c.r) + ", " + std::to_string(c.g) + ", " + std::to_string(c.b) + ")";
}

constexpr int H = 32, W = 40, N = 4;

bool dead(int r, int c) {  // ier 5 (maxfev) with finite x
  return (r == 3 && c == 7) || (r == 10 && c == 20) || (r == 31 && c == 39) || (r == 0 && c == 0);
}
bool unsolved(int r, int c) {
  return r == 20 && c == 5;
}  // ier -3, x NaN
bool nan_c(int r, int c) {
  return r == 5 && c == 30;
}  // ier 1, x[3] NaN

// The synthetic cube: amplitude = column, center = row, sigma = 1 everywhere,
// c = 0.1 * (row + column); stderr = 1 % of x times (1 + column / 10), so the
// relative error rises along the columns; cost = row, nfev = 10 + column % 7.
Result synthetic(const std::string& input_file) {
  Result res;
  res.shape = {H, W};
  res.n = N;
  res.names = {"amplitude", "center", "sigma", "c"};
  for (int r = 0; r < H; ++r)
    for (int c = 0; c < W; ++c) {
      double p[N] = {static_cast<double>(c), static_cast<double>(r), 1.0, 0.1 * (r + c)};
      int ier = (r + c) % 5 == 0 ? 2 : 1;
      if (dead(r, c)) ier = 5;
      if (unsolved(r, c)) {
        ier = -3;
        for (double& v : p) v = kNaN;
      }
      if (nan_c(r, c)) p[3] = kNaN;
      for (int j = 0; j < N; ++j) {
        res.x.push_back(p[j]);
        res.se.push_back(0.01 * std::fabs(p[j]) * (1 + c / 10.0));
      }
      res.cost.push_back(unsolved(r, c) ? kNaN : r);
      res.nfev.push_back(unsolved(r, c) ? 0 : 10 + c % 7);
      res.ier.push_back(ier);
    }
  res.strings = {{"model", "gaussian+constant"},
                 {"input_file", input_file},
                 {"lmbatch_version", "0.2.0"},
                 {"start_time", "2026-01-02T03:04:05Z"},
                 {"end_time", "2026-01-02T03:04:07Z"},
                 {"jacobian", "analytic"},
                 {"y", "/y"},
                 {"ier_messages",
                  "-3: Fewer valid samples than parameters: not solved.\n"
                  "1: Both actual and predicted relative reductions in the sum of squares\n"
                  "  are at most 0.000000\n"
                  "2: The relative error between two consecutive iterates is at most 0.000000\n"
                  "5: Number of calls to function has reached maxfev = 1000.\n"}};
  res.numbers = {{"ftol", 1.49012e-08}, {"xtol", 1.49012e-08},    {"maxfev", 1000},
                 {"seconds", 2.0},      {"fits_per_second", 640}, {"threads", 2}};
  return res;
}

}  // namespace

// The synthetic cube's report, made once per process (Catch runs the test
// case again for each of its sections).
struct SyntheticReport {
  TempDir dir;
  std::string out;
  json manifest;
  SyntheticReport() {
    // A generated cube as the run's input; it names the parameters' units.
    const std::string cube = dir.file("cube.h5");
    REQUIRE(run_lmbatch(
                "generate " + cube + " --model gaussian+constant --shape 32,40 --samples 16", dir)
                .status == 0);
    {
      h5::File f(H5Fopen(cube.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
      REQUIRE(f.valid());
      REQUIRE(h5::write_string_attribute(f.get(), "parameter_units",
                                         {"counts", "nm", "nm", "counts"}, false));
    }
    const std::string result = dir.file("synthetic.h5");
    synthetic(cube).write(result);
    out = dir.file("rep");
    const Run run = run_lmbatch("report " + result + " -o " + out, dir);
    INFO(run.output);
    REQUIRE(run.status == 0);
    manifest = json::parse(read_text(out + "/report.json"));
  }
};

const SyntheticReport& synthetic_report() {
  static const SyntheticReport report;
  return report;
}

TEST_CASE("report of a synthetic cube: the maps' colours follow the known pattern", "[report]") {
  const std::string& out = synthetic_report().out;
  const json& manifest = synthetic_report().manifest;
  CHECK(manifest.at("leading_shape") == json({H, W}));
  CHECK(manifest.at("parameter_units") == json({"counts", "nm", "nm", "counts"}));

  SECTION("amplitude = column: colours rise along the columns, dead pixels in red") {
    const json& img = image(manifest, "map_p0_amplitude.png");
    CHECK(img.at("range") == json({0.0, 39.0}));  // every column has converged fits
    CHECK(img.at("stride") == 1);
    CHECK(img.at("scale").get<int>() >= 8);
    const Png png(out + "/map_p0_amplitude.png");
    CHECK(png.width() >= img.at("plot").at("x").get<int>() + W * img.at("scale").get<int>());
    for (int r = 0; r < H; ++r) {
      double previous = -1;
      for (int c = 0; c < W; ++c) {
        const rp::Rgb got = cell(png, img, r, c);
        INFO("row " << r << " column " << c << ": " << text(got));
        if (dead(r, c) || unsolved(r, c)) {
          CHECK(got == (dead(r, c) ? rp::kFailureColour : rp::kNoDataColour));
          continue;
        }
        CHECK(got == rp::sequential(c / 39.0));
        // Independently of the table: lighter with every column.
        const double L = rp::oklab_lightness(got);
        CHECK(L > previous);
        previous = L;
      }
    }
    // The whole cell is one colour (nearest-neighbour enlargement), up to its edges.
    const int scale = img.at("scale"), x0 = img.at("plot").at("x"), y0 = img.at("plot").at("y");
    CHECK(png.at(x0 + 5 * scale, y0 + 2 * scale) == rp::sequential(5 / 39.0));
    CHECK(png.at(x0 + 6 * scale - 1, y0 + 3 * scale - 1) == rp::sequential(5 / 39.0));
  }

  SECTION("center = row: colours rise down the rows") {
    const json& img = image(manifest, "map_p1_center.png");
    CHECK(img.at("range") == json({0.0, 31.0}));
    const Png png(out + "/map_p1_center.png");
    for (int c = 0; c < W; ++c) {
      double previous = -1;
      for (int r = 0; r < H; ++r) {
        const rp::Rgb got = cell(png, img, r, c);
        if (dead(r, c) || unsolved(r, c)) {
          CHECK(got == (dead(r, c) ? rp::kFailureColour : rp::kNoDataColour));
          continue;
        }
        CHECK(got == rp::sequential(r / 31.0));
        CHECK(rp::oklab_lightness(got) > previous);
        previous = rp::oklab_lightness(got);
      }
    }
  }

  SECTION("a constant parameter is one colour; a NaN value is grey") {
    const Png sigma(out + "/map_p2_sigma.png");
    const json& is = image(manifest, "map_p2_sigma.png");
    const Png cmap(out + "/map_p3_c.png");
    const json& ic = image(manifest, "map_p3_c.png");
    for (int r = 0; r < H; ++r)
      for (int c = 0; c < W; ++c) {
        CHECK(cell(sigma, is, r, c) == (dead(r, c)       ? rp::kFailureColour
                                        : unsolved(r, c) ? rp::kNoDataColour
                                                         : rp::sequential(0.5)));
        if (nan_c(r, c)) CHECK(cell(cmap, ic, r, c) == rp::kNanColour);
      }
  }

  SECTION("relative standard errors rise along the columns") {
    const json& img = image(manifest, "relerr_p0_amplitude.png");
    const Png png(out + "/relerr_p0_amplitude.png");
    // stderr / |x| = 0.01 * (1 + c / 10); column 0 has x = 0: infinite, grey.
    CHECK(cell(png, img, 1, 0) == rp::kNanColour);
    double previous = -1;
    for (int c = 1; c < W; ++c) {
      const double L = rp::oklab_lightness(cell(png, img, 1, c));
      CHECK(L >= previous);
      previous = L;
    }
    CHECK(rp::oklab_lightness(cell(png, img, 1, W - 1)) >
          rp::oklab_lightness(cell(png, img, 1, 1)) + 0.4);
  }

  SECTION("the ier map marks the dead pixels; its legend carries scipy's messages") {
    const json& img = image(manifest, "map_ier.png");
    const Png png(out + "/map_ier.png");
    for (int r = 0; r < H; ++r)
      for (int c = 0; c < W; ++c) {
        const int ier = unsolved(r, c) ? -3 : dead(r, c) ? 5 : (r + c) % 5 == 0 ? 2 : 1;
        INFO("row " << r << " column " << c);
        CHECK(cell(png, img, r, c) == rp::ier_colour(ier));
      }
    std::map<std::string, int> counts;
    for (auto& [k, v] : manifest.at("ier_counts").items()) counts[k] = v;
    CHECK(counts["5"] == 4);
    CHECK(counts["-3"] == 1);
    CHECK(counts["1"] + counts["2"] == H * W - 5);
    // The legend's swatches are drawn under the map in the codes' colours.
    std::set<std::string> found;
    const int below = img.at("plot").at("y").get<int>() + img.at("plot").at("height").get<int>();
    for (int y = below; y < png.height(); ++y)
      for (int x = 0; x < 40; ++x)
        for (int ier : {-3, 1, 2, 5})
          if (png.at(x, y) == rp::ier_colour(ier)) found.insert(std::to_string(ier));
    CHECK(found == std::set<std::string>{"-3", "1", "2", "5"});
    const std::string html = read_text(out + "/index.html");
    CHECK(html.find("Number of calls to function has reached maxfev = 1000.") != std::string::npos);
    CHECK(html.find("Both actual and predicted relative reductions in the sum of squares are at "
                    "most 0.000000") != std::string::npos);
  }

  SECTION("no data (ier -3) has its own colour, legend row and count, apart from failed fits") {
    // Every field map: the dead pixels (ier 5) red, the unsolved one (ier -3) white.
    for (const auto& img : manifest.at("images")) {
      const std::string kind = img.at("kind");
      if (kind == "ier_map" || kind.find("map") == std::string::npos) continue;
      const std::string file = img.at("file");
      INFO(file);
      const Png png(out + "/" + file);
      CHECK(cell(png, img, 20, 5) == rp::kNoDataColour);
      CHECK(cell(png, img, 3, 7) == rp::kFailureColour);
      std::map<std::string, std::pair<int, rp::Rgb>> legend;
      for (const auto& row : img.at("legend"))
        legend[row.at("key")] = {
            row.at("count").get<int>(),
            rp::Rgb{row.at("colour")[0], row.at("colour")[1], row.at("colour")[2]}};
      REQUIRE(legend.size() == 3);
      CHECK(legend["failed"] == std::pair<int, rp::Rgb>{4, rp::kFailureColour});
      CHECK(legend["no_data"] == std::pair<int, rp::Rgb>{1, rp::kNoDataColour});
      CHECK(legend["nonfinite"].second == rp::kNanColour);
    }
    for (const auto& f : manifest.at("fields")) {
      INFO(f.at("quantity"));
      CHECK(f.at("failed") == 4);
      CHECK(f.at("no_data") == 1);
    }
    // The page's summary has the column.
    const std::string html = read_text(out + "/index.html");
    CHECK(html.find("<th>no data</th>") != std::string::npos);
  }

  SECTION("map axes carry row and column titles; the bar's label reads upwards, whole pixels") {
    for (const auto& img : manifest.at("images")) {
      const std::string kind = img.at("kind");
      if (kind.find("map") == std::string::npos) continue;
      const std::string file = img.at("file");
      INFO(file);
      const Png png(out + "/" + file);
      const auto& plot = img.at("plot");
      const int px = plot.at("x"), py = plot.at("y"), pw = plot.at("width"), ph = plot.at("height");
      REQUIRE(img.contains("titles"));
      const auto& titles = img.at("titles");
      REQUIRE(titles.size() == (kind == "ier_map" ? 2u : 3u));
      // Ink (a dark pixel) in the box [x0, x1) x [y0, y1).
      auto ink = [&](int x0, int x1, int y0, int y1) {
        for (int y = std::max(y0, 0); y < std::min(y1, png.height()); ++y)
          for (int x = std::max(x0, 0); x < std::min(x1, png.width()); ++x)
            if (png.at(x, y).r < 100 && png.at(x, y).g < 100) return true;
        return false;
      };
      for (const auto& t : titles) {
        const double x = t.at("x"), y = t.at("y");
        CHECK(x == std::round(x));
        CHECK(y == std::round(y));
      }
      const auto& row = titles[0];
      CHECK(row.at("text") == "row");
      CHECK(row.at("upwards") == true);
      const int rx = row.at("x"), ry = row.at("y");
      CHECK(rx < px);
      CHECK((ry > py && ry <= py + ph));
      CHECK(ink(rx - 10, rx + 1, ry - 20, ry));  // "row" reads up from its start
      const auto& column = titles[1];
      CHECK(column.at("text") == "column");
      CHECK(column.at("upwards") == false);
      const int cx = column.at("x"), cy = column.at("y");
      CHECK(cy > py + ph + 17);  // below the column indices
      CHECK((cx > px && cx < px + pw));
      CHECK(ink(cx, cx + 40, cy - 9, cy + 1));
      if (kind != "ier_map") {
        CHECK(titles[2].at("upwards") == true);
        CHECK(titles[2].at("x").get<int>() > px + pw);
      }
    }
    CHECK(image(manifest, "map_p0_amplitude.png").at("titles")[2].at("text") ==
          "amplitude [counts]");
  }

  SECTION("cost and nfev maps") {
    const json& ic = image(manifest, "map_cost.png");
    const Png cost(out + "/map_cost.png");
    CHECK(cell(cost, ic, 31, 1) == rp::sequential(1.0));
    CHECK(cell(cost, ic, 0, 1) == rp::sequential(0.0));
    const json& in = image(manifest, "map_nfev.png");
    CHECK(in.at("range") == json({10.0, 16.0}));
    const Png nfev(out + "/map_nfev.png");
    CHECK(cell(nfev, in, 2, 6) == rp::sequential(1.0));
    CHECK(cell(nfev, in, 2, 3) == rp::sequential(0.5));
  }

  SECTION("histograms count every converged value, failed ones stacked apart") {
    const json& img = image(manifest, "hist_p0_amplitude.png");
    const auto ok = img.at("counts_converged").get<std::vector<double>>();
    const auto failed = img.at("counts_failed").get<std::vector<double>>();
    REQUIRE(ok.size() == 60);
    std::vector<double> expect_ok(60, 0), expect_failed(60, 0);
    for (int r = 0; r < H; ++r)
      for (int c = 0; c < W; ++c) {
        if (unsolved(r, c)) continue;
        const auto b = std::min<std::size_t>(59, static_cast<std::size_t>(c / 39.0 * 60));
        (dead(r, c) ? expect_failed : expect_ok)[b] += 1;
      }
    CHECK(ok == expect_ok);
    CHECK(failed == expect_failed);
    // The drawn bars: the tallest bin's bar, just above the axis, in its value's colour.
    const Png png(out + "/hist_p0_amplitude.png");
    const auto& plot = img.at("plot");
    const int bins = 60, b = 1;  // column 1: 32 converged values, a full bar
    const double bw = plot.at("width").get<double>() / bins;
    const int x = plot.at("x").get<int>() + static_cast<int>((b + 0.5) * bw);
    const int y = plot.at("y").get<int>() + plot.at("height").get<int>() - 3;
    CHECK(png.at(x, y) == rp::sequential((b + 0.5) / bins));
    // nfev: one bin per value, 10..16, failed fits included in red.
    const json& hn = image(manifest, "hist_nfev.png");
    CHECK(hn.at("bins") == 7);
    double total = 0;
    for (double v : hn.at("counts_converged")) total += v;
    for (double v : hn.at("counts_failed")) total += v;
    CHECK(total == H * W - 1);  // all but the unsolved one (nfev 0 is outside: below)
  }

  SECTION("index.html shows every picture and the run's provenance, with no network") {
    const std::string html = read_text(out + "/index.html");
    for (const auto& img : manifest.at("images")) {
      const std::string file = img.at("file");
      CHECK(html.find("src=\"" + file + "\"") != std::string::npos);
      CHECK(fs::exists(out + "/" + file));
    }
    CHECK(manifest.at("images").size() == 4 + 4 + 2 + 1 + 4 + 2 + 1);
    for (const char* s :
         {"gaussian+constant", "2026-01-02T03:04:05Z", "2026-01-02T03:04:07Z", "ftol=1.49012e-08",
          "maxfev=1000", "<th>fits per second</th><td>640</td>", "<th>seconds</th><td>2</td>",
          "<th>threads</th><td>2</td>", "<th>model</th><td>gaussian+constant</td>", "lmbatch 0.2.0",
          "amplitude [counts]", "center [nm]", "32 x 40", "cube.h5", "synthetic.h5"})
      CHECK(html.find(s) != std::string::npos);
    CHECK(html.find("http://") == std::string::npos);
    CHECK(html.find("https://") == std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("<link") == std::string::npos);
  }
}

TEST_CASE("report of a real fit, image-shaped and list-shaped", "[report]") {
  TempDir dir;
  REQUIRE(run_lmbatch("generate " + dir.file("cube.h5") +
                          " --model gaussian+constant --shape 12,16 --samples 48 --seed 3",
                      dir)
              .status == 0);
  REQUIRE(run_lmbatch("fit " + dir.file("cube.h5") + " -o " + dir.file("fit.h5") +
                          " --model gaussian+constant --threads 1",
                      dir)
              .status == 0);
  Run run = run_lmbatch("report " + dir.file("fit.h5") + " -o " + dir.file("rep"), dir);
  INFO(run.output);
  REQUIRE(run.status == 0);
  json manifest = json::parse(read_text(dir.file("rep/report.json")));
  std::set<std::string> files;
  for (const auto& img : manifest.at("images")) files.insert(img.at("file"));
  for (const char* f :
       {"map_p0_amplitude.png", "map_p3_c.png", "relerr_p1_center.png", "map_cost.png",
        "map_nfev.png", "map_ier.png", "hist_p2_sigma.png", "hist_nfev.png", "ier_counts.png"})
    CHECK(files.count(f) == 1);
  std::string html = read_text(dir.file("rep/index.html"));
  CHECK(html.find("gaussian+constant") != std::string::npos);
  CHECK(html.find("fits per second") != std::string::npos);

  // A list of problems: histograms and counts, no maps.
  REQUIRE(run_lmbatch("generate " + dir.file("list.h5") +
                          " --model exponential+constant --count 200 --samples 40",
                      dir)
              .status == 0);
  REQUIRE(run_lmbatch("fit " + dir.file("list.h5") + " -o " + dir.file("list_fit.h5") +
                          " --model exponential+constant",
                      dir)
              .status == 0);
  // Reusing the directory: the earlier report's pictures go.
  run = run_lmbatch("report " + dir.file("list_fit.h5") + " -o " + dir.file("rep"), dir);
  INFO(run.output);
  REQUIRE(run.status == 0);
  manifest = json::parse(read_text(dir.file("rep/report.json")));
  files.clear();
  for (const auto& img : manifest.at("images")) files.insert(img.at("file"));
  CHECK(files == std::set<std::string>{"hist_p0_amplitude.png", "hist_p1_tau.png", "hist_p2_c.png",
                                       "hist_cost.png", "hist_nfev.png", "ier_counts.png"});
  CHECK_FALSE(fs::exists(dir.file("rep/map_ier.png")));
  html = read_text(dir.file("rep/index.html"));
  CHECK(html.find("map_") == std::string::npos);
  CHECK(html.find("exponential+constant") != std::string::npos);
  double total = 0;
  for (auto& [k, v] : manifest.at("ier_counts").items()) total += v.get<double>();
  CHECK(total == 200);
}

TEST_CASE("a run with constraints gets a pegged map per parameter, one without none",
          "[report][constraints]") {
  TempDir dir;
  REQUIRE(run_lmbatch("generate " + dir.file("cube.h5") +
                          " --model gaussian+constant --shape 12,16 --samples 48 --seed 3",
                      dir)
              .status == 0);
  // The mask holds c on the even columns; sigma is held everywhere.
  std::vector<std::uint8_t> mask(12 * 16 * 4, 0);
  for (int p = 0; p < 12 * 16; ++p) mask[p * 4 + 3] = (p % 16) % 2 == 0;
  lmbatch::io::test::write_dataset<std::uint8_t>(dir.file("cube.h5"), "/mask", {12, 16, 4}, mask);
  REQUIRE(run_lmbatch("fit " + dir.file("cube.h5") + " -o " + dir.file("fit.h5") +
                          " --model gaussian+constant --fixed /mask --fix sigma=1.5",
                      dir)
              .status == 0);
  Run run = run_lmbatch("report " + dir.file("fit.h5") + " -o " + dir.file("rep"), dir);
  INFO(run.output);
  REQUIRE(run.status == 0);
  const json manifest = json::parse(read_text(dir.file("rep/report.json")));
  const json& c = image(manifest, "pegged_p3_c.png");
  CHECK(c.at("kind") == "pegged_map");
  const Png png(dir.file("rep/pegged_p3_c.png"));
  for (int r = 0; r < 12; r += 5)
    for (int col = 0; col < 16; ++col) {
      INFO("row " << r << ", column " << col);
      CHECK(text(cell(png, c, r, col)) ==
            text(col % 2 == 0 ? rp::Rgb{60, 60, 60} : rp::Rgb{225, 225, 225}));
    }
  for (const auto& entry : c.at("legend"))
    if (entry.at("pegged") == 2) CHECK(entry.at("count") == 12 * 8);
  const Png sigma(dir.file("rep/pegged_p2_sigma.png"));
  CHECK(text(cell(sigma, image(manifest, "pegged_p2_sigma.png"), 4, 5)) == text({60, 60, 60}));
  CHECK(read_text(dir.file("rep/index.html")).find("pegged_p0_amplitude.png") != std::string::npos);

  REQUIRE(run_lmbatch("fit " + dir.file("cube.h5") + " -o " + dir.file("free.h5") +
                          " --model gaussian+constant",
                      dir)
              .status == 0);
  REQUIRE(run_lmbatch("report " + dir.file("free.h5") + " -o " + dir.file("rep0"), dir).status ==
          0);
  CHECK(read_text(dir.file("rep0/report.json")).find("pegged") == std::string::npos);
}

TEST_CASE("a large map is shown in cells of several problems", "[report]") {
  TempDir dir;
  Result res;
  const int rows = 4, cols = 2100;  // stride 3: 2 x 700 cells
  res.shape = {rows, cols};
  res.n = 1;
  res.names = {"a"};
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      res.x.push_back(c);
      res.se.push_back(1);
      res.cost.push_back(1);
      res.nfev.push_back(5);
      // Cell column 100 (problems 300..302): two of three failed in row 0..2;
      // cell column 200 (600..602): two of three had no data.
      res.ier.push_back(c >= 300 && c <= 301 ? 5 : c >= 600 && c <= 601 ? -3 : 1);
    }
  res.numbers = {{"ftol", 1e-10}};  // no ier_messages, no maxfev: the texts come from the table
  res.write(dir.file("wide.h5"));
  const Run run = run_lmbatch("report " + dir.file("wide.h5") + " -o " + dir.file("rep"), dir);
  INFO(run.output);
  REQUIRE(run.status == 0);
  const json manifest = json::parse(read_text(dir.file("rep/report.json")));
  const json& img = image(manifest, "map_p0_a.png");
  CHECK(img.at("stride") == 3);
  const Png png(dir.file("rep/map_p0_a.png"));
  CHECK(img.at("plot").at("width") == 700 * img.at("scale").get<int>());
  CHECK(cell(png, img, 0, 300) == rp::kFailureColour);  // most of the cell failed
  CHECK(cell(png, img, 1, 600) == rp::kNoDataColour);   // most of the cell had no data
  // Without ier_messages: batch::status_text with the file's ftol, and scipy's
  // default maxfev for one parameter and a forward-difference Jacobian.
  const std::string html = read_text(dir.file("rep/index.html"));
  CHECK(html.find("relative reductions in the sum of squares are at most ftol = 1e-10.") !=
        std::string::npos);
  CHECK(html.find("Number of calls to function has reached maxfev = 400.") != std::string::npos);
  CHECK(html.find("Fewer valid samples than parameters: not solved.") != std::string::npos);
  const auto& range = img.at("range");
  // Other cells: the mean of their three columns (3k + 1).
  for (int k : {0, 50, 99, 101, 199, 201, 400, 699}) {
    const double mean = 3 * k + 1;
    const double t =
        (mean - range[0].get<double>()) / (range[1].get<double>() - range[0].get<double>());
    CHECK(cell(png, img, 0, 3 * k) == rp::sequential(t));
  }
}

TEST_CASE("report: errors name the file and dataset", "[report]") {
  TempDir dir;
  Run run = run_lmbatch("report " + dir.file("missing.h5") + " -o " + dir.file("rep"), dir);
  CHECK(run.status == 1);
  CHECK(run.output.find("missing.h5: no such file") != std::string::npos);
  REQUIRE(run_lmbatch("generate " + dir.file("cube.h5") +
                          " --model gaussian+constant --shape 2,3 --samples 16",
                      dir)
              .status == 0);
  run = run_lmbatch("report " + dir.file("cube.h5") + " -o " + dir.file("rep"), dir);
  CHECK(run.status == 1);
  // A problem file is not a result file: io::ResultFileReader says so.
  CHECK(run.output.find("cube.h5: is not an lmbatch result file") != std::string::npos);
  run = run_lmbatch("report " + dir.file("cube.h5"), dir);
  CHECK(run.status == 2);
}
