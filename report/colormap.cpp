#include "lmbatch/report/colormap.hpp"

#include <algorithm>
#include <cmath>

namespace lmbatch::report {
namespace {

struct Lab {
  double L, a, b;
};

double srgb_to_linear(double c) {
  return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}
double linear_to_srgb(double c) {
  return c <= 0.0031308 ? 12.92 * c : 1.055 * std::pow(c, 1.0 / 2.4) - 0.055;
}

// Björn Ottosson's OKLab (2020), from and to linear sRGB.
Lab to_oklab(double r, double g, double b) {
  const double l = std::cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b);
  const double m = std::cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const double s = std::cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return {0.2104542553 * l + 0.7936177850 * m - 0.0040720468 * s,
          1.9779984951 * l - 2.4285922050 * m + 0.4505937099 * s,
          0.0259040371 * l + 0.7827717662 * m - 0.8086757660 * s};
}
void from_oklab(const Lab& c, double& r, double& g, double& b) {
  const double l = std::pow(c.L + 0.3963377774 * c.a + 0.2158037573 * c.b, 3);
  const double m = std::pow(c.L - 0.1055613458 * c.a - 0.0638541728 * c.b, 3);
  const double s = std::pow(c.L - 0.0894841775 * c.a - 1.2914855480 * c.b, 3);
  r = 4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s;
  g = -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s;
  b = -0.0041960863 * l - 0.7034186147 * m + 1.7076147010 * s;
}

Lab hex_to_oklab(unsigned hex) {
  return to_oklab(srgb_to_linear(((hex >> 16) & 0xff) / 255.0),
                  srgb_to_linear(((hex >> 8) & 0xff) / 255.0),
                  srgb_to_linear((hex & 0xff) / 255.0));
}

std::uint8_t to_byte(double linear) {
  const double v = linear_to_srgb(std::clamp(linear, 0.0, 1.0));
  return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
}

// Catmull-Rom through equally spaced anchors.
double catmull_rom(double p0, double p1, double p2, double p3, double u) {
  return 0.5 * (2 * p1 + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u * u +
                (-p0 + 3 * p1 - 3 * p2 + p3) * u * u * u);
}

std::array<Rgb, 256> build_table() {
  constexpr unsigned anchors_hex[] = {0x440154, 0x3b528b, 0x21918c, 0x5ec962, 0xfde725};
  constexpr int k = 5;
  Lab anchors[k];
  for (int i = 0; i < k; ++i) anchors[i] = hex_to_oklab(anchors_hex[i]);
  const double L0 = anchors[0].L, L1 = anchors[k - 1].L;
  std::array<Rgb, 256> table{};
  for (int i = 0; i < 256; ++i) {
    const double t = i / 255.0;
    const double pos = t * (k - 1);
    const int seg = std::min(static_cast<int>(pos), k - 2);
    const double u = pos - seg;
    auto at = [&](int j) { return anchors[std::clamp(j, 0, k - 1)]; };
    Lab c;
    c.L = L0 + (L1 - L0) * t;  // lightness linear in the value
    c.a = catmull_rom(at(seg - 1).a, at(seg).a, at(seg + 1).a, at(seg + 2).a, u);
    c.b = catmull_rom(at(seg - 1).b, at(seg).b, at(seg + 1).b, at(seg + 2).b, u);
    // Keep the colour inside sRGB by lowering the chroma (never the lightness).
    double r = 0, g = 0, b = 0;
    for (int step = 0; step < 60; ++step) {
      from_oklab(c, r, g, b);
      const double eps = 1e-9;
      if (r >= -eps && g >= -eps && b >= -eps && r <= 1 + eps && g <= 1 + eps && b <= 1 + eps)
        break;
      c.a *= 0.97;
      c.b *= 0.97;
    }
    table[i] = {to_byte(r), to_byte(g), to_byte(b)};
  }
  return table;
}

}  // namespace

const std::array<Rgb, 256>& sequential_table() {
  static const std::array<Rgb, 256> table = build_table();
  return table;
}

int sequential_index(double t) {
  if (!(t == t)) return 0;
  return static_cast<int>(std::lround(std::clamp(t, 0.0, 1.0) * 255.0));
}

Rgb sequential(double t) {
  return sequential_table()[sequential_index(t)];
}

Rgb ier_colour(int ier) {
  switch (ier) {
    case 1:
      return {0, 158, 115};  // bluish green
    case 2:
      return {86, 180, 233};  // sky blue
    case 3:
      return {0, 114, 178};  // blue
    case 4:
      return {0, 80, 60};  // dark green
    case 5:
      return {213, 94, 0};  // vermillion
    case 6:
      return {230, 159, 0};  // orange
    case 7:
      return {240, 228, 66};  // yellow
    case 8:
      return {204, 121, 167};  // reddish purple
    case 0:
      return {136, 34, 85};  // wine
    case -1:
      return {153, 153, 51};  // olive
    case -2:
      return {120, 60, 170};  // violet
    case -3:
      return {40, 40, 40};  // near black: not solved
    case -4:
      return {215, 215, 215};  // pale grey: never written
    case -5:
      return {140, 86, 60};  // brown: negative count under the poisson loss
    case -6:
      return {0, 158, 158};  // teal: start outside bounds
    default:
      return {255, 0, 255};  // anything else: magenta
  }
}

double oklab_lightness(Rgb c) {
  return to_oklab(srgb_to_linear(c.r / 255.0), srgb_to_linear(c.g / 255.0),
                  srgb_to_linear(c.b / 255.0))
      .L;
}

}  // namespace lmbatch::report
