// Happens-before annotations for ThreadSanitizer; empty in every other build.
//
// oneTBB synchronises inside libtbb (task spawns, the pipeline's tokens and its serial
// stages, the caller's wait), and Debian's libtbb is not instrumented, so TSan sees none
// of it: every hand-off of a chunk between pipeline stages looks like a data race. The
// engine declares those hand-offs with these calls, exactly as parallel_pipeline
// guarantees them, so that TSan checks everything else (scripts/sanitizers.sh tsan).
#pragma once

#if defined(__SANITIZE_THREAD__)
#define LMBATCH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LMBATCH_TSAN 1
#endif
#endif

#ifdef LMBATCH_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace lmbatch::batch::detail {

// Everything before hb_release(key) on one thread happens before everything after a
// later hb_acquire(key) on another.
inline void hb_release([[maybe_unused]] const void* key) {
#ifdef LMBATCH_TSAN
  __tsan_release(const_cast<void*>(key));
#endif
}
inline void hb_acquire([[maybe_unused]] const void* key) {
#ifdef LMBATCH_TSAN
  __tsan_acquire(const_cast<void*>(key));
#endif
}

// A region that runs after the previous one with the same key (a serial pipeline
// stage): acquires the key on entry, releases it on exit (an exception included).
class HbSerial {
 public:
  explicit HbSerial(const void* key) : key_(key) { hb_acquire(key_); }
  ~HbSerial() { hb_release(key_); }
  HbSerial(const HbSerial&) = delete;
  HbSerial& operator=(const HbSerial&) = delete;

 private:
  const void* key_;
};

}  // namespace lmbatch::batch::detail
