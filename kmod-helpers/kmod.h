#ifndef DMSCALE_KMOD_H
#define DMSCALE_KMOD_H
/* Make sure a kernel module (e.g. "dm_mod", "dm_thin_pool") is loaded, with
 * its dependencies, through libkmod. 0 if loaded or built in; -ENOENT with a
 * clear message if this kernel lacks it. */
int dms_kmod_ensure(const char *module);
#endif
