/* A plugin built for an ABI version lmbatch does not know (tests). */
#include "lmbatch/models/plugin_abi.h"

LMBATCH_PLUGIN_EXPORT uint32_t lmbatch_plugin_abi_version(void) { return 99u; }
LMBATCH_PLUGIN_EXPORT const lmbatch_plugin_model* lmbatch_plugin_get_model(void) { return 0; }
