// Colours of the report: a perceptual sequential map for continuous values,
// the colours that mark failed fits, problems without data and NaN, and a categorical palette for
// the MINPACK status (ier).
#pragma once

#include <array>
#include <cstdint>

namespace lmbatch::report {

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

// A fit whose ier is not 1..4 and not -3 (failed, or never written): in
// every continuous map and in the failed part of the histograms. A saturated
// red, far from every entry of the sequential map.
inline constexpr Rgb kFailureColour{228, 26, 28};
// A problem with no data to fit (ier -3: fewer valid samples than
// parameters, e.g. every sample masked): not a failed fit, none was tried.
// White, as a hole in the map, far from the sequential map and the red.
inline constexpr Rgb kNoDataColour{255, 255, 255};
// A successful fit whose value is NaN or infinite (e.g. a relative error
// whose stderr is NaN because cov_x is singular): light grey.
inline constexpr Rgb kNanColour{190, 190, 190};

// The ier codes a result file holds, -4 (never written) .. 8 (the status
// table of lmbatch/batch/status.hpp), each with its own colour: greens and
// blues for success (1..4), warm colours for failures; magenta for any other.
Rgb ier_colour(int ier);

// OKLab lightness of an sRGB colour (0 black .. 1 white).
double oklab_lightness(Rgb c);

}  // namespace lmbatch::report
