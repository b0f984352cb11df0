// The instruction sets the engine's SIMD kernels are compiled for, and the
// one they run on: the best this CPU has, found once with CPUID (as Google
// Highway's own dispatch does; its libhwy, whose start-up code uses rdtscp,
// is not linked, so that valgrind still runs the engine). Targets are
// Highway's bits (hwy/detect_targets.h: HWY_AVX3, HWY_AVX2, HWY_SSE4, and the
// baseline, a lower bit being a better target).
#pragma once

#include <cstdint>
#include <vector>

namespace lmbatch::simd {

// The target the kernels run on: the one use_target() set, else the best
// compiled target this CPU runs.
std::int64_t chosen_target();
// Compiled targets this CPU runs, best first (the baseline last).
std::vector<std::int64_t> available_targets();
// For tests and benches: run on `target` (one of available_targets()), or
// 0 for the best again. Not thread-safe: call while no kernel runs.
void use_target(std::int64_t target);
// "AVX3", "AVX2", "SSE4", "EMU128", "SCALAR", ...
const char* target_name(std::int64_t target);

}  // namespace lmbatch::simd
