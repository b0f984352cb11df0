/* A plugin whose value fails (returns nonzero) for some parameters (tests):
 * f = a*x, failing when a > 10. */
#include <stddef.h>

#include "lmbatch/models/plugin_abi.h"

static int value(void* c, const double* p, const double* x, int64_t m, double* f) {
  (void)c;
  if (p[0] > 10.0) return 1;
  for (int64_t i = 0; i < m; ++i) f[i] = p[0] * x[i];
  return 0;
}
static int jacobian(void* c, const double* p, const double* x, int64_t m, double* jac, int64_t ld) {
  (void)c;
  (void)p;
  (void)ld;
  for (int64_t i = 0; i < m; ++i) jac[i] = x[i];
  return 0;
}
static const char* const names[] = {"a"};
static const lmbatch_plugin_model model = {LMBATCH_PLUGIN_ABI_VERSION, 0, "fragile", NULL, 1, names,
                                           NULL, value, jacobian, NULL};
LMBATCH_PLUGIN_EXPORT uint32_t lmbatch_plugin_abi_version(void) { return LMBATCH_PLUGIN_ABI_VERSION; }
LMBATCH_PLUGIN_EXPORT const lmbatch_plugin_model* lmbatch_plugin_get_model(void) { return &model; }
