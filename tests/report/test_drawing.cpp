// The report's building blocks: the colour map, ticks, HTML escaping.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>

#include "lmbatch/batch/status.hpp"
#include "lmbatch/report/colormap.hpp"
#include "lmbatch/report/html.hpp"
#include "lmbatch/report/plot.hpp"
#include "lmbatch/report/stats.hpp"

namespace rp = lmbatch::report;

TEST_CASE("the sequential map is viridis-like and its lightness rises with the value", "[report]") {
  const auto& t = rp::sequential_table();
  auto dist = [](rp::Rgb a, rp::Rgb b) {
    return std::abs(a.r - b.r) + std::abs(a.g - b.g) + std::abs(a.b - b.b);
  };
  // Ends and middle near viridis' anchors #440154, #21918c, #fde725.
  CHECK(dist(t[0], {0x44, 0x01, 0x54}) <= 6);
  CHECK(dist(t[128], {0x21, 0x91, 0x8c}) <= 12);
  CHECK(dist(t[255], {0xfd, 0xe7, 0x25}) <= 6);
  // Perceptual: OKLab lightness increases steadily (8-bit rounding may tie
  // neighbours, never reverse over 3 steps).
  for (int i = 0; i + 3 < 256; ++i)
    CHECK(rp::oklab_lightness(t[i + 3]) > rp::oklab_lightness(t[i]));
  const double span = rp::oklab_lightness(t[255]) - rp::oklab_lightness(t[0]);
  CHECK(span > 0.55);
  // The failure and NaN colours are far from every entry.
  for (const auto& c : t) {
    CHECK(dist(c, rp::kFailureColour) > 120);
    CHECK(dist(c, rp::kNanColour) > 60);
  }
  CHECK(rp::sequential(0.0) == t[0]);
  CHECK(rp::sequential(1.0) == t[255]);
  CHECK(rp::sequential(2.0) == t[255]);
  CHECK(rp::sequential(std::nan("")) == t[0]);
  CHECK(rp::sequential_index(0.5) == 128);
}

TEST_CASE("ier codes have distinct colours", "[report]") {
  for (int a = lmbatch::batch::kLowestStatus; a <= lmbatch::batch::kHighestStatus; ++a)
    for (int b = a + 1; b <= lmbatch::batch::kHighestStatus; ++b)
      CHECK_FALSE(rp::ier_colour(a) == rp::ier_colour(b));
}

TEST_CASE("ticks are round numbers inside the range", "[report]") {
  CHECK(rp::nice_ticks(0, 39) == std::vector<double>{0, 10, 20, 30});
  CHECK(rp::nice_ticks(1.0, 2.0).size() >= 4);
  for (double v : rp::nice_ticks(-0.37, 0.81)) {
    CHECK(v >= -0.37);
    CHECK(v <= 0.81);
  }
  CHECK(rp::tick_label(0.25, 0.25) == "0.25");
  CHECK(rp::tick_label(20, 10) == "20");
  CHECK(rp::tick_label(1.5, 0.5) == "1.5");
  CHECK(rp::tick_label(2e7, 1e7) == "2e+07");
}

TEST_CASE("statistics: exact quantiles for small inputs, counts outside a range", "[report]") {
  rp::Stats s;
  for (int i = 100; i >= 0; --i) s.add(i);
  s.finish();
  CHECK(s.count() == 101);
  CHECK(s.quantile(0.5) == 50);
  CHECK(s.quantile(0.0) == 0);
  CHECK(s.quantile(1.0) == 100);
  CHECK(s.mean() == Approx(50));
  CHECK(s.count_below(10) == 10);
  CHECK(s.count_above(90) == 10);
  // A sampled quantile is close.
  rp::Stats big(1000);
  for (int i = 0; i < 100000; ++i) big.add(i % 1000);
  big.finish();
  CHECK_FALSE(big.exact());
  CHECK(big.quantile(0.5) == Approx(500).margin(60));
  CHECK(big.min() == 0);
  CHECK(big.max() == 999);
}

TEST_CASE("html escaping", "[report]") {
  CHECK(rp::html_escape("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

TEST_CASE("text starts on a whole pixel, turned upwards too, so no gap opens inside a word",
          "[report]") {
  // The colour bar's label "center" of a 12 x 16 map: 38.999999999999986
  // pixels long, centred on y = 240. Its start half-way between two pixels,
  // a hair off, rounded some glyph origins up and some down: "c enter".
  const rp::PlacedText up = rp::text_start("center", 602, 240, 38.999999999999986, 0.5, 12, true);
  CHECK(up.upwards);
  CHECK(up.text == "center");
  CHECK(up.x == 602);
  CHECK(up.y == std::round(up.y));
  CHECK(std::fabs(up.y - (240 + 19.5)) <= 0.5);  // below the anchor: it reads upwards
  const rp::PlacedText right = rp::text_start("0.25", 40.5, 17.25, 21, 1.0, 11);
  CHECK_FALSE(right.upwards);
  CHECK(right.x == std::round(right.x));
  CHECK(std::fabs(right.x - (40.5 - 21)) <= 0.5);
  CHECK(right.y == 17);
}
