/*
 * lmbatch model plugins: the C ABI, version 1.
 *
 * A plugin is a shared library (.so) that defines one model term for
 * `lmbatch fit --model-plugin path/to/libmodel.so`. It exports two functions
 * with C linkage:
 *
 *   uint32_t lmbatch_plugin_abi_version(void);
 *       returns LMBATCH_PLUGIN_ABI_VERSION as the plugin was built against;
 *       lmbatch refuses a plugin whose version it does not know, before
 *       reading anything else from it.
 *
 *   const lmbatch_plugin_model* lmbatch_plugin_get_model(void);
 *       returns the model's description, which must stay valid (static
 *       storage) until the library is unloaded.
 *
 * The term is then used by its name like a catalogue term, alone or in a sum:
 *   lmbatch fit in.h5 -o out.h5 --model-plugin ./libmystep.so --model mystep+linear
 *
 * Calling conventions:
 *  - Arrays are contiguous doubles. x holds the m sample positions of one
 *    problem (samples with NaN in x or y are already removed), p the term's
 *    n_params parameters in the order of param_names.
 *  - value writes f[i] = term(x[i]; p) for i < m (overwrites).
 *  - jacobian writes jac[i + k*ld] = d term(x[i]; p) / d p_k for i < m and
 *    k < n_params (column-major, one column per parameter; ld >= m). It must
 *    be the exact derivative: lmbatch's analytic mode (the default) uses it
 *    as is; `--jacobian forward` ignores it.
 *  - estimate (optional, may be NULL) writes n_params starting values from
 *    the data y (what is left of it after the model's baseline terms have
 *    been estimated) when the user gives no x0. Without it, a model using the
 *    plugin needs --x0 or --x0-values.
 *  - Every function returns 0 on success. A nonzero return marks the values
 *    as failed: lmbatch replaces them with NaN, and the fit concerned ends
 *    with ier -2 (non-finite) or stops improving; other fits go on.
 *  - The functions are called concurrently from several threads, on
 *    different arrays: they must be thread-safe (no unsynchronised global
 *    state). `context` is passed back unchanged to every call.
 *  - Nothing may be allocated for lmbatch to free; the functions must not
 *    throw C++ exceptions across the boundary or call exit().
 *
 * SECURITY: loading a plugin runs its code with your privileges (the
 * library's initialisers run as soon as it is loaded, before any check). Load
 * only plugins you trust, as you would run any program.
 */
#ifndef LMBATCH_MODELS_PLUGIN_ABI_H
#define LMBATCH_MODELS_PLUGIN_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LMBATCH_PLUGIN_ABI_VERSION 1u

/* Flags. */
#define LMBATCH_PLUGIN_BASELINE 1u /* estimated before peaks, as catalogue baselines are */

typedef struct lmbatch_plugin_model {
  /* LMBATCH_PLUGIN_ABI_VERSION (checked again against the exported function). */
  uint32_t abi_version;
  /* LMBATCH_PLUGIN_* flags, or 0. */
  uint32_t flags;
  /* The term's name in --model: [a-z_][a-z0-9_]*, not a catalogue name. */
  const char* name;
  /* A human-readable formula for messages and output attributes (or NULL). */
  const char* formula;
  /* Parameter count (1..64) and names ([A-Za-z_][A-Za-z0-9_]*, distinct). */
  int32_t n_params;
  const char* const* param_names;
  /* Passed back to every call below. */
  void* context;
  int (*value)(void* context, const double* p, const double* x, int64_t m, double* f);
  int (*jacobian)(void* context, const double* p, const double* x, int64_t m, double* jac,
                  int64_t ld);
  /* Optional (NULL: no estimate). y holds m values; writes n_params to p. */
  int (*estimate)(void* context, const double* x, const double* y, int64_t m, double* p);
} lmbatch_plugin_model;

/* The exported entry points' types and names. */
typedef uint32_t (*lmbatch_plugin_abi_version_fn)(void);
typedef const lmbatch_plugin_model* (*lmbatch_plugin_get_model_fn)(void);
#define LMBATCH_PLUGIN_ABI_VERSION_SYMBOL "lmbatch_plugin_abi_version"
#define LMBATCH_PLUGIN_GET_MODEL_SYMBOL "lmbatch_plugin_get_model"

/* For the plugin's own definitions: exported even under -fvisibility=hidden. */
#if defined(__GNUC__)
#define LMBATCH_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define LMBATCH_PLUGIN_EXPORT
#endif

#ifdef __cplusplus
}
#endif

#endif /* LMBATCH_MODELS_PLUGIN_ABI_H */
