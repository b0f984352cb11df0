#include "lmbatch/report/plot.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace lmbatch::report {
namespace {

constexpr const char* kFont = "DejaVu Sans";
constexpr int kMargin = 16;

// One PNG being drawn: an RGB surface on a white background.
class Canvas {
 public:
  Canvas(int width, int height)
      : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, std::max(width, 1),
                                            std::max(height, 1))),
        cr_(cairo_create(surface_)) {
    if (cairo_surface_status(surface_) != CAIRO_STATUS_SUCCESS)
      throw std::runtime_error("cannot create a " + std::to_string(width) + " x " +
                               std::to_string(height) +
                               " image: " + cairo_status_to_string(cairo_surface_status(surface_)));
    cairo_set_source_rgb(cr_, 1, 1, 1);
    cairo_paint(cr_);
    cairo_set_source_rgb(cr_, 0, 0, 0);
  }
  ~Canvas() {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
  }
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  cairo_t* cr() const { return cr_; }

  // Exact pixels (no antialiasing or filtering): the maps and the colour bar.
  void put_pixels(int x0, int y0, int width, int height, const auto& colour_at) {
    cairo_surface_flush(surface_);
    unsigned char* data = cairo_image_surface_get_data(surface_);
    const int stride = cairo_image_surface_get_stride(surface_);
    const int w = cairo_image_surface_get_width(surface_),
              h = cairo_image_surface_get_height(surface_);
    for (int y = 0; y < height; ++y) {
      if (y0 + y < 0 || y0 + y >= h) continue;
      auto* row =
          reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(y0 + y) * stride);
      for (int x = 0; x < width; ++x) {
        if (x0 + x < 0 || x0 + x >= w) continue;
        const Rgb c = colour_at(x, y);
        row[x0 + x] = (std::uint32_t{c.r} << 16) | (std::uint32_t{c.g} << 8) | c.b;
      }
    }
    cairo_surface_mark_dirty(surface_);
  }

  void save(const std::string& path) {
    cairo_surface_flush(surface_);
    const cairo_status_t status = cairo_surface_write_to_png(surface_, path.c_str());
    if (status != CAIRO_STATUS_SUCCESS)
      throw std::runtime_error(path + ": cannot write the PNG (" + cairo_status_to_string(status) +
                               ")");
  }

 private:
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

// Text measurement before the canvas size is known.
class Measure {
 public:
  Measure()
      : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1)),
        cr_(cairo_create(surface_)) {}
  ~Measure() {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
  }
  cairo_t* cr() const { return cr_; }

 private:
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

void set_font(cairo_t* cr, double size, bool bold = false) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double text_width(cairo_t* cr, const std::string& s, double size, bool bold = false) {
  set_font(cr, size, bold);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

void draw_text(cairo_t* cr, const PlacedText& t, bool bold = false) {
  set_font(cr, t.size, bold);
  cairo_save(cr);
  // The turn goes about the whole-pixel start, never about a point between
  // pixels (see text_start).
  cairo_translate(cr, t.x, t.y);
  if (t.upwards) cairo_rotate(cr, -M_PI / 2);
  cairo_move_to(cr, 0, 0);
  cairo_show_text(cr, t.text.c_str());
  cairo_restore(cr);
}

// Text with its baseline at y; align 0 left, 0.5 centre, 1 right of x.
PlacedText text(cairo_t* cr, double x, double y, const std::string& s, double size,
                bool bold = false, double align = 0.0) {
  PlacedText t = text_start(s, x, y, text_width(cr, s, size, bold), align, size);
  draw_text(cr, t, bold);
  return t;
}

// Text reading bottom to top whose baseline runs up x; align 0 bottom,
// 0.5 centre, 1 top of y.
PlacedText upward_text(cairo_t* cr, double x, double y, const std::string& s, double size,
                       double align = 0.5) {
  PlacedText t = text_start(s, x, y, text_width(cr, s, size), align, size, true);
  draw_text(cr, t);
  return t;
}

void set_colour(cairo_t* cr, Rgb c) {
  cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0);
}

// Greedy word wrap to lines no wider than width.
std::vector<std::string> wrap(cairo_t* cr, const std::string& s, double width, double size) {
  std::vector<std::string> lines;
  std::string line, word;
  auto flush_word = [&] {
    if (word.empty()) return;
    const std::string candidate = line.empty() ? word : line + " " + word;
    if (!line.empty() && text_width(cr, candidate, size) > width) {
      lines.push_back(line);
      line = word;
    } else {
      line = candidate;
    }
    word.clear();
  };
  for (char ch : s) {
    if (ch == ' ' || ch == '\n' || ch == '\t')
      flush_word();
    else
      word += ch;
  }
  flush_word();
  if (!line.empty() || lines.empty()) lines.push_back(line);
  return lines;
}

struct WrappedLegend {
  std::vector<std::vector<std::string>> lines;  // per entry
  int height = 0;
};
constexpr double kLegendFont = 12, kLegendLine = 16, kSwatch = 12;

WrappedLegend wrap_legend(const std::vector<LegendEntry>& legend, double width) {
  Measure m;
  WrappedLegend out;
  for (const auto& e : legend) {
    out.lines.push_back(wrap(m.cr(), e.text, width - kSwatch - 8, kLegendFont));
    out.height += static_cast<int>(out.lines.back().size() * kLegendLine) + 4;
  }
  return out;
}

void draw_legend(cairo_t* cr, const std::vector<LegendEntry>& legend, const WrappedLegend& w,
                 double x, double y) {
  for (std::size_t k = 0; k < legend.size(); ++k) {
    set_colour(cr, legend[k].colour);
    cairo_rectangle(cr, x, y + 2, kSwatch, kSwatch);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (std::size_t l = 0; l < w.lines[k].size(); ++l)
      text(cr, x + kSwatch + 8, y + 12 + l * kLegendLine, w.lines[k][l], kLegendFont);
    y += w.lines[k].size() * kLegendLine + 4;
  }
}

// The title and the subtitle wrapped to the picture's width; the data area
// starts at top(lines).
constexpr double kSubtitleLine = 15;
std::vector<std::string> subtitle_lines(const std::string& subtitle, int width) {
  Measure m;
  return wrap(m.cr(), subtitle, width - 2 * kMargin, 12);
}
int top_below(const std::vector<std::string>& lines) {
  return 60 + static_cast<int>((lines.size() - 1) * kSubtitleLine);
}
void title_block(cairo_t* cr, const std::string& title, const std::vector<std::string>& lines) {
  cairo_set_source_rgb(cr, 0, 0, 0);
  text(cr, kMargin, 26, title, 16, true);
  cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
  for (std::size_t k = 0; k < lines.size(); ++k)
    text(cr, kMargin, 46 + k * kSubtitleLine, lines[k], 12);
  cairo_set_source_rgb(cr, 0, 0, 0);
}

void line(cairo_t* cr, double x0, double y0, double x1, double y1) {
  cairo_move_to(cr, x0, y0);
  cairo_line_to(cr, x1, y1);
  cairo_stroke(cr);
}

// Integer ticks over 0..n-1 (at least one).
std::vector<double> index_ticks(unsigned long long n) {
  std::vector<double> out;
  if (n == 0) return out;
  for (double t : nice_ticks(0, static_cast<double>(n - 1), 5))
    if (t == std::floor(t)) out.push_back(t);
  if (out.empty()) out.push_back(0);
  return out;
}

}  // namespace

PlacedText text_start(std::string text, double x, double y, double width, double align, double size,
                      bool upwards) {
  PlacedText t{std::move(text), x, y, size, upwards};
  if (upwards)
    t.y = y + align * width;  // bottom to top: the start is below the anchor
  else
    t.x = x - align * width;
  t.x = std::round(t.x);
  t.y = std::round(t.y);
  return t;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!std::isfinite(lo) || !std::isfinite(hi)) return ticks;
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) return {lo};
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double f : {1.0, 2.0, 5.0, 10.0})
    if (f * mag >= raw) {
      step = f * mag;
      break;
    }
  const double first = std::ceil(lo / step - 1e-9) * step;
  for (int k = 0; k < 100; ++k) {
    double v = first + k * step;
    if (v > hi + step * 1e-9) break;
    if (std::fabs(v) < step * 1e-9) v = 0;
    ticks.push_back(v);
  }
  return ticks;
}

std::string tick_label(double value, double step) {
  char buf[64];
  const double a = std::max(std::fabs(value), std::fabs(step));
  if (a != 0 && (a >= 1e6 || a < 1e-3)) {
    std::snprintf(buf, sizeof buf, "%.3g", value);
  } else {
    int decimals = 0;
    if (step > 0 && step < 1) decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    // 0.25-like steps need one more decimal than their power of ten.
    if (step > 0) {
      const double scaled = step * std::pow(10.0, decimals);
      if (std::fabs(scaled - std::round(scaled)) > 1e-6) ++decimals;
    }
    std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 12), value);
  }
  return buf;
}

PlotRect draw_map(const MapPicture& map, const std::string& png_path) {
  Measure m;
  const int mw = map.cols * map.scale, mh = map.rows * map.scale;
  const auto row_ticks = index_ticks(map.full_rows), col_ticks = index_ticks(map.full_cols);
  double row_label_w = 0;
  for (double t : row_ticks)
    row_label_w = std::max(row_label_w, text_width(m.cr(), tick_label(t, 1), 11));
  // Left to right: the row title (reading upwards), the row indices, the map.
  constexpr int kAxisTitle = 12, kTitleColumn = 20;
  const int mx = kMargin + kTitleColumn + static_cast<int>(row_label_w) + 10;

  // Colour bar: 18 px wide, as tall as the map (at least 120 px).
  std::vector<double> bar_ticks;
  double bar_step = 1, bar_label_w = 0;
  const int bar_h = std::max(mh, 120), bar_w = 18, bar_x = mx + mw + 24;
  if (map.bar) {
    for (double t : nice_ticks(map.bar->lo, map.bar->hi, 5))
      if (!map.bar->integer || t == std::floor(t)) bar_ticks.push_back(t);
    bar_step = bar_ticks.size() > 1 ? bar_ticks[1] - bar_ticks[0] : 1;
    for (double t : bar_ticks)
      bar_label_w = std::max(bar_label_w, text_width(m.cr(), tick_label(t, bar_step), 11));
  }
  int width = mx + mw + kMargin;
  if (map.bar) width = bar_x + bar_w + 8 + static_cast<int>(bar_label_w) + 28 + kMargin;
  width = std::max({width, map.bar ? 560 : 720,
                    static_cast<int>(text_width(m.cr(), map.title, 16, true)) + 2 * kMargin});
  const auto sub = subtitle_lines(map.subtitle, width);
  const int my = top_below(sub);
  const WrappedLegend legend = wrap_legend(map.legend, width - 2 * kMargin);
  const int body_h = std::max(mh, map.bar ? bar_h : 0);
  // Under the map: the column indices, then the column title.
  const int column_title_y = my + mh + 34;
  const int legend_y = std::max(my + body_h + 30, column_title_y + 14);
  const int height = legend_y + legend.height + kMargin;

  Canvas canvas(width, height);
  cairo_t* cr = canvas.cr();
  title_block(cr, map.title, sub);

  canvas.put_pixels(mx, my, mw, mh, [&](int x, int y) {
    return map.pixels[static_cast<std::size_t>(y / map.scale) * map.cols + x / map.scale];
  });
  cairo_set_line_width(cr, 1);
  cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
  cairo_rectangle(cr, mx - 0.5, my - 0.5, mw + 1, mh + 1);
  cairo_stroke(cr);

  // Axes: row and column indices of the problems.
  cairo_set_source_rgb(cr, 0, 0, 0);
  for (double t : col_ticks) {
    const double x = mx + (t / map.stride + 0.5) * map.scale;
    line(cr, x, my + mh + 1, x, my + mh + 5);
    text(cr, x, my + mh + 17, tick_label(t, 1), 11, false, 0.5);
  }
  for (double t : row_ticks) {
    const double y = my + (t / map.stride + 0.5) * map.scale;
    line(cr, mx - 5, y, mx - 1, y);
    text(cr, mx - 7, y + 4, tick_label(t, 1), 11, false, 1.0);
  }
  std::vector<PlacedText> titles;
  titles.push_back(upward_text(cr, kMargin + 12, my + mh / 2.0, map.row_title, kAxisTitle));
  titles.push_back(
      text(cr, mx + mw / 2.0, column_title_y, map.column_title, kAxisTitle, false, 0.5));

  if (map.bar) {
    const int by = my;
    canvas.put_pixels(bar_x, by, bar_w, bar_h, [&](int, int y) {
      return sequential(1.0 - static_cast<double>(y) / (bar_h - 1));
    });
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    cairo_rectangle(cr, bar_x - 0.5, by - 0.5, bar_w + 1, bar_h + 1);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    const double span = map.bar->hi - map.bar->lo;
    for (double t : bar_ticks) {
      const double f = span > 0 ? (t - map.bar->lo) / span : 0.5;
      const double y = by + (1.0 - f) * (bar_h - 1) + 0.5;
      line(cr, bar_x + bar_w, y, bar_x + bar_w + 5, y);
      text(cr, bar_x + bar_w + 8, y + 4, tick_label(t, bar_step), 11);
    }
    // The bar's label, reading upwards, to the right of the tick labels.
    const double lx = bar_x + bar_w + 8 + bar_label_w + 18;
    titles.push_back(upward_text(cr, lx, by + bar_h / 2.0, map.bar->label, 12));
  }
  draw_legend(cr, map.legend, legend, kMargin, legend_y);
  canvas.save(png_path);
  return {mx, my, mw, mh, width, height, std::move(titles)};
}

PlotRect draw_histogram(const HistogramPicture& h, const std::string& png_path) {
  const int width = 640;
  const auto sub = subtitle_lines(h.subtitle, width);
  const int px = 76, py = top_below(sub) + 4, pw = width - px - 24, ph = 292;
  double failed_total = 0;
  for (double f : h.failed) failed_total += f;
  const int height = py + ph + (failed_total > 0 ? 72 : 52);
  Canvas canvas(width, height);
  cairo_t* cr = canvas.cr();
  title_block(cr, h.title, sub);
  const std::size_t bins = h.ok.size();
  double top = 0;
  for (std::size_t k = 0; k < bins; ++k) top = std::max(top, h.ok[k] + h.failed[k]);
  const auto yt = nice_ticks(0, std::max(top, 1.0) * 1.05, 5);
  const double ymax = std::max(std::max(top, 1.0) * 1.05, yt.empty() ? 1.0 : yt.back());
  // Grid and y axis.
  cairo_set_line_width(cr, 1);
  for (double t : yt) {
    const double y = std::round(py + ph - t / ymax * ph) + 0.5;
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    line(cr, px, y, px + pw, y);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, px - 6, y + 4, tick_label(t, yt.size() > 1 ? yt[1] - yt[0] : 1), 11, false, 1.0);
  }
  // Bars.
  const double bw = bins ? static_cast<double>(pw) / bins : pw;
  for (std::size_t k = 0; k < bins; ++k) {
    const double x = px + k * bw;
    const double ok_h = h.ok[k] / ymax * ph, fail_h = h.failed[k] / ymax * ph;
    set_colour(cr, h.colour_by_value ? sequential((k + 0.5) / bins) : sequential(0.35));
    cairo_rectangle(cr, x, py + ph - ok_h, std::max(bw - (bw > 3 ? 1 : 0), 1.0), ok_h);
    cairo_fill(cr);
    set_colour(cr, kFailureColour);
    cairo_rectangle(cr, x, py + ph - ok_h - fail_h, std::max(bw - (bw > 3 ? 1 : 0), 1.0), fail_h);
    cairo_fill(cr);
  }
  // x axis.
  cairo_set_source_rgb(cr, 0, 0, 0);
  line(cr, px, py + ph + 0.5, px + pw, py + ph + 0.5);
  line(cr, px - 0.5, py, px - 0.5, py + ph);
  std::vector<double> xt;
  for (double t : nice_ticks(h.lo, h.hi, 6))
    if (!h.integer_ticks || t == std::floor(t)) xt.push_back(t);
  if (h.integer_ticks && xt.empty()) xt.push_back(std::ceil(h.lo));
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  for (double t : xt) {
    const double x = px + (h.hi > h.lo ? (t - h.lo) / (h.hi - h.lo) : 0.5) * pw;
    line(cr, x, py + ph, x, py + ph + 5);
    text(cr, x, py + ph + 18, tick_label(t, xstep), 11, false, 0.5);
  }
  text(cr, px + pw / 2.0, py + ph + 40, h.xlabel, 12, false, 0.5);
  upward_text(cr, 18, py + ph / 2.0, "problems per bin", 12);
  // Legend in one row under the axis label, only when failed fits are drawn.
  if (failed_total > 0) {
    double x = px;
    const double y = py + ph + 50;
    for (const LegendEntry& e :
         {LegendEntry{sequential(h.colour_by_value ? 0.5 : 0.35), "converged (ier 1-4)"},
          LegendEntry{kFailureColour, "failed (ier not 1-4)"}}) {
      set_colour(cr, e.colour);
      cairo_rectangle(cr, x, y, kSwatch, kSwatch);
      cairo_fill(cr);
      cairo_set_source_rgb(cr, 0, 0, 0);
      text(cr, x + kSwatch + 6, y + 11, e.text, kLegendFont);
      x += kSwatch + 6 + text_width(cr, e.text, kLegendFont) + 24;
    }
  }
  canvas.save(png_path);
  return {px, py, pw, ph, width, height, {}};
}

PlotRect draw_counts(const std::vector<CountBar>& bars, double total, const std::string& title,
                     const std::string& subtitle, const std::string& png_path) {
  Measure m;
  double label_w = 0;
  for (const auto& b : bars) label_w = std::max(label_w, text_width(m.cr(), b.label, 12));
  const int row_h = 26, px = kMargin + static_cast<int>(label_w) + 10;
  const int width = std::max(640, px + 420), pw = width - px - 130;
  const auto sub = subtitle_lines(subtitle, width);
  const int py = top_below(sub) + 2;
  const int ph = std::max(1, static_cast<int>(bars.size())) * row_h;
  const int height = py + ph + kMargin + 8;
  Canvas canvas(width, height);
  cairo_t* cr = canvas.cr();
  title_block(cr, title, sub);
  double top = 0;
  for (const auto& b : bars) top = std::max(top, b.count);
  for (std::size_t k = 0; k < bars.size(); ++k) {
    const double y = py + k * row_h;
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, px - 8, y + 17, bars[k].label, 12, false, 1.0);
    const double w = top > 0 ? bars[k].count / top * pw : 0;
    set_colour(cr, bars[k].colour);
    cairo_rectangle(cr, px, y + 4, std::max(w, bars[k].count > 0 ? 1.0 : 0.0), row_h - 8);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.0f (%.2f %%)", bars[k].count,
                  total > 0 ? 100.0 * bars[k].count / total : 0.0);
    text(cr, px + w + 6, y + 17, buf, 12);
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  line(cr, px - 0.5, py, px - 0.5, py + ph);
  canvas.save(png_path);
  return {px, py, pw, ph, width, height, {}};
}

}  // namespace lmbatch::report
