/*
 * An lmbatch model plugin: a logistic step,
 *
 *   logistic_step(x) = height / (1 + exp(-(x - mid) / width)),
 *
 * parameters height, mid, width. Build it as a shared library against the
 * header only (no lmbatch library to link):
 *
 *   cc -O2 -fPIC -shared -I<lmbatch>/engine/include logistic_step.c -o liblogistic_step.so -lm
 *
 * and fit with it, alone or next to catalogue terms:
 *
 *   lmbatch fit data.h5 -o fit.h5 --model-plugin ./liblogistic_step.so --model logistic_step+constant
 *
 * See lmbatch/models/plugin_abi.h for the contract (thread safety, return
 * codes) and docs/models.md.
 */
#include <math.h>
#include <stddef.h>

#include "lmbatch/models/plugin_abi.h"

/* s = 1 / (1 + exp(-u)) without overflow for either sign of u. */
static double sigmoid(double u) {
  if (u >= 0.0) return 1.0 / (1.0 + exp(-u));
  const double e = exp(u);
  return e / (1.0 + e);
}

static int value(void* context, const double* p, const double* x, int64_t m, double* f) {
  (void)context;
  const double height = p[0], mid = p[1], width = p[2];
  for (int64_t i = 0; i < m; ++i) f[i] = height * sigmoid((x[i] - mid) / width);
  return 0;
}

/* df/du = height * s * (1 - s), u = (x - mid)/width: du/dmid = -1/width,
 * du/dwidth = -u/width. */
static int jacobian(void* context, const double* p, const double* x, int64_t m, double* jac,
                    int64_t ld) {
  (void)context;
  const double height = p[0], mid = p[1], width = p[2];
  double* d_height = jac;
  double* d_mid = jac + ld;
  double* d_width = jac + 2 * ld;
  for (int64_t i = 0; i < m; ++i) {
    const double u = (x[i] - mid) / width;
    const double s = sigmoid(u);
    const double slope = height * s * (1.0 - s);
    d_height[i] = s;
    d_mid[i] = -slope / width;
    d_width[i] = -slope * u / width;
  }
  return 0;
}

/* Starting values: the mean level of the lowest and of the highest tenth of
 * the x range give the height (signed: a falling step has height < 0), the
 * sample closest to the half-way level the midpoint, a tenth of the x range
 * the width. */
static int estimate(void* context, const double* x, const double* y, int64_t m, double* p) {
  (void)context;
  if (m < 1) return 1;
  double lo = x[0], hi = x[0];
  for (int64_t i = 1; i < m; ++i) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  const double band = 0.1 * (hi - lo);
  double low_sum = 0.0, high_sum = 0.0;
  int64_t low_n = 0, high_n = 0;
  for (int64_t i = 0; i < m; ++i) {
    if (x[i] <= lo + band) low_sum += y[i], ++low_n;
    if (x[i] >= hi - band) high_sum += y[i], ++high_n;
  }
  const double low = low_sum / (double)low_n, high = high_sum / (double)high_n;
  const double half = 0.5 * (low + high);
  int64_t best = 0;
  for (int64_t i = 1; i < m; ++i)
    if (fabs(y[i] - half) < fabs(y[best] - half)) best = i;
  p[0] = high - low;
  p[1] = x[best];
  p[2] = hi > lo ? 0.1 * (hi - lo) : 1.0;
  return 0;
}

static const char* const parameter_names[] = {"height", "mid", "width"};

static const lmbatch_plugin_model model = {
    .abi_version = LMBATCH_PLUGIN_ABI_VERSION,
    .flags = 0,
    .name = "logistic_step",
    .formula = "height/(1+exp(-(x-mid)/width))",
    .n_params = 3,
    .param_names = parameter_names,
    .context = NULL,
    .value = value,
    .jacobian = jacobian,
    .estimate = estimate,
};

LMBATCH_PLUGIN_EXPORT uint32_t lmbatch_plugin_abi_version(void) {
  return LMBATCH_PLUGIN_ABI_VERSION;
}

LMBATCH_PLUGIN_EXPORT const lmbatch_plugin_model* lmbatch_plugin_get_model(void) { return &model; }
