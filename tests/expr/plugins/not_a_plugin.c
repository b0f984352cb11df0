/* A shared library without the plugin entry points (tests). */
int lmbatch_not_a_plugin(void);
int lmbatch_not_a_plugin(void) { return 1; }
