// Colours of the report: a perceptual sequential map for continuous values,
// the colours that mark failed fits and NaN, and a categorical palette for
// the MINPACK status (ier).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace lmbatch::app::report {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

// The sequential map, 256 entries from dark blue-violet (low) through blue,
// teal and green to yellow (high), viridis-like. It is built in the OKLab
// colour space: lightness rises linearly with the value (so a greyscale print
// or a colour-blind reader still sees the order) while the hue follows
// viridis' anchor colours (#440154, #3b528b, #21918c, #5ec962, #fde725).
const std::array<Rgb, 256>& sequential_table();

// The entry for t in [0, 1] (clamped; NaN gives entry 0).
Rgb sequential(double t);

// Index of t in the table: round(t * 255), clamped to 0..255.
int sequential_index(double t);

// A fit whose ier is not 1..4 (failed, not solved, never written): in every
// continuous map and in the failed part of the histograms. A saturated red,
// far from every entry of the sequential map.
inline constexpr Rgb kFailureColour{228, 26, 28};
// A successful fit whose value is NaN or infinite (e.g. a relative error
// whose stderr is NaN because cov_x is singular): light grey.
inline constexpr Rgb kNanColour{190, 190, 190};

// The ier codes a result file holds, -4 (never written) .. 8, each with its own
// colour: greens and blues for success (1..4), warm colours for failures.
Rgb ier_colour(int ier);
// Short label: "1 ftol", "5 maxfev", "-3 not solved", "other" ...
std::string ier_short_label(int ier);
inline constexpr int kIerMin = -4, kIerMax = 8;
// Per-cell vote slots: one per code kIerMin..kIerMax, then one for any other code.
inline constexpr int kIerVoteSlots = kIerMax - kIerMin + 2, kIerOtherSlot = kIerVoteSlots - 1;
inline bool ier_success(int ier) { return ier >= 1 && ier <= 4; }

// OKLab lightness of an sRGB colour (0 black .. 1 white).
double oklab_lightness(Rgb c);

}  // namespace lmbatch::app::report
