// CPU detection for the SIMD kernels (lmbatch/simd/targets.hpp): the features
// each Highway target is compiled with (hwy/ops/set_macros-inl.h's
// HWY_TARGET_STR_*), read with CPUID, and the operating system's saving of the
// AVX and AVX-512 registers, read with XGETBV.
#include "lmbatch/simd/targets.hpp"

#include <hwy/detect_targets.h>
#include <hwy/targets.h>

#include <atomic>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace lmbatch::simd {
namespace {

#if defined(__x86_64__) || defined(__i386__)
bool bit(unsigned word, int b) {
  return (word >> b) & 1u;
}

std::int64_t detect() {
  std::int64_t runs = HWY_STATIC_TARGET;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return runs;
  const unsigned c1 = c;
  unsigned b7 = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) b7 = b;
  // SSE4: SSSE3, SSE4.1, SSE4.2, PCLMUL, AES.
  const bool sse4 = bit(c1, 9) && bit(c1, 19) && bit(c1, 20) && bit(c1, 1) && bit(c1, 25);
  // The OS saves the YMM (and ZMM) registers: XGETBV, when OSXSAVE.
  unsigned xcr0 = 0;
  if (bit(c1, 27)) {
    unsigned hi;
    __asm__("xgetbv" : "=a"(xcr0), "=d"(hi) : "c"(0));
  }
  const bool ymm = (xcr0 & 0x6u) == 0x6u, zmm = (xcr0 & 0xE6u) == 0xE6u;
  // AVX2: AVX, AVX2, BMI, BMI2, FMA, F16C.
  const bool avx2 = sse4 && ymm && bit(c1, 28) && bit(b7, 5) && bit(b7, 3) && bit(b7, 8) &&
                    bit(c1, 12) && bit(c1, 29);
  // AVX3: AVX-512 F, VL, DQ, BW.
  const bool avx3 = avx2 && zmm && bit(b7, 16) && bit(b7, 31) && bit(b7, 17) && bit(b7, 30);
  if (sse4) runs |= HWY_SSE4;
  if (avx2) runs |= HWY_AVX2;
  if (avx3) runs |= HWY_AVX3;
  return runs;
}
#else
std::int64_t detect() {
  return HWY_STATIC_TARGET;
}
#endif

// Compiled and run by this CPU.
std::int64_t available_mask() {
  static const std::int64_t mask = detect() & (HWY_TARGETS | HWY_STATIC_TARGET);
  return mask;
}

std::atomic<std::int64_t> forced{0};

}  // namespace

std::int64_t chosen_target() {
  const std::int64_t f = forced.load(std::memory_order_relaxed);
  if (f != 0) return f;
  const std::int64_t mask = available_mask();
  return mask & -mask;  // the lowest bit: the best
}

std::vector<std::int64_t> available_targets() {
  std::vector<std::int64_t> out;
  for (std::int64_t t = available_mask(); t != 0; t &= t - 1) out.push_back(t & -t);
  return out;
}

void use_target(std::int64_t target) {
  forced.store(target & available_mask(), std::memory_order_relaxed);
}

const char* target_name(std::int64_t target) {
  return hwy::TargetName(target);
}

}  // namespace lmbatch::simd
