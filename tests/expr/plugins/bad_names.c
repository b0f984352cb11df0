/* A plugin whose parameter names repeat (tests): refused when loaded. */
#include <stddef.h>

#include "lmbatch/models/plugin_abi.h"

static int value(void* c, const double* p, const double* x, int64_t m, double* f) {
  (void)c;
  for (int64_t i = 0; i < m; ++i) f[i] = p[0] + p[1] * x[i];
  return 0;
}
static int jacobian(void* c, const double* p, const double* x, int64_t m, double* jac, int64_t ld) {
  (void)c;
  (void)p;
  for (int64_t i = 0; i < m; ++i) {
    jac[i] = 1.0;
    jac[i + ld] = x[i];
  }
  return 0;
}
static const char* const names[] = {"k", "k"};
static const lmbatch_plugin_model model = {LMBATCH_PLUGIN_ABI_VERSION, 0, "twice", NULL, 2, names,
                                           NULL, value, jacobian, NULL};
LMBATCH_PLUGIN_EXPORT uint32_t lmbatch_plugin_abi_version(void) { return LMBATCH_PLUGIN_ABI_VERSION; }
LMBATCH_PLUGIN_EXPORT const lmbatch_plugin_model* lmbatch_plugin_get_model(void) { return &model; }
