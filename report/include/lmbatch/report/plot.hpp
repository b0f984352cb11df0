// The report's pictures, drawn with Cairo and written as PNG (Cairo's own PNG
// writer, libpng underneath): parameter maps with a colour bar, the
// categorical ier map with its legend, histograms and the ier counts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lmbatch/report/colormap.hpp"

namespace lmbatch::report {

// A piece of text as drawn: the start of its baseline in PNG pixels, always
// a whole pixel (see text_start).
struct PlacedText {
  std::string text;
  double x = 0, y = 0;
  double size = 12;      // font size, pixels
  bool upwards = false;  // turned a quarter counter-clockwise: reads bottom to top
};

// The start of the baseline of a text `width` pixels long (its advance) whose
// anchor (x, y) lies at `align` along it (0 its start, 0.5 its middle, 1 its
// end), reading rightwards or, upwards, bottom to top. Rounded to a whole
// pixel: Cairo rounds each glyph's origin to a pixel on its own, so a start
// half-way between two pixels, give or take a rounding error of the width,
// rounds some glyphs one way and some the other and opens gaps inside a word
// ("c enter"); whole-pixel starts and whole-pixel (hinted) advances keep
// every origin whole.
PlacedText text_start(std::string text, double x, double y, double width, double align, double size,
                      bool upwards = false);

// Where the data area of a picture lies, in PNG pixels (for the manifest and
// the tests), and its titles.
struct PlotRect {
  int x = 0, y = 0, width = 0, height = 0;
  int image_width = 0, image_height = 0;  // the whole PNG
  // Maps: the axis titles ("row" left of the map, reading upwards; "column"
  // under it) and the colour bar's label, as drawn.
  std::vector<PlacedText> titles;
};

struct LegendEntry {
  Rgb colour;
  std::string text;
};

// "Nice" tick positions covering [lo, hi] (about `target` of them, steps of
// 1, 2 or 5 times a power of ten), only those inside [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// A tick's text with as many decimals as the step needs ("0.25", "1e+06").
std::string tick_label(double value, double step);

struct MapPicture {
  int rows = 0, cols = 0;   // the displayed grid
  std::vector<Rgb> pixels;  // rows * cols, row-major, row 0 at the top
  int scale = 1;            // PNG pixels per displayed cell, each way
  int stride = 1;           // problems per displayed cell, each way (1: every problem)
  unsigned long long full_rows = 0, full_cols = 0;  // the leading shape, for the axes
  std::string title, subtitle;
  std::string row_title = "row", column_title = "column";  // the axes' titles
  struct Bar {
    double lo = 0, hi = 1;  // the values of the map's first and last colour
    std::string label;
    bool integer = false;  // ticks on whole numbers only
  };
  std::optional<Bar> bar;           // continuous maps
  std::vector<LegendEntry> legend;  // swatches under the map (failure, NaN, ier codes)
};
PlotRect draw_map(const MapPicture& map, const std::string& png_path);

struct HistogramPicture {
  double lo = 0, hi = 1;           // the binned range
  std::vector<double> ok, failed;  // counts per bin (same length)
  bool colour_by_value = true;     // bars in the sequential map's colour of their centre
  bool integer_ticks = false;      // ticks on whole numbers only (one bin per integer)
  std::string title, subtitle, xlabel;
};
PlotRect draw_histogram(const HistogramPicture& h, const std::string& png_path);

struct CountBar {
  std::string label;
  double count = 0;
  Rgb colour;
};
PlotRect draw_counts(const std::vector<CountBar>& bars, double total, const std::string& title,
                     const std::string& subtitle, const std::string& png_path);

}  // namespace lmbatch::report
