#include "kmod-helpers/kmod.h"

#include <libkmod.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dmscale/log.h"

int dms_kmod_ensure(const char *module)
{
	/* Loaded already (or built in with parameters): no module lookup, which a
	 * sandboxed caller (the daemon: ProtectKernelModules=) cannot do. */
	char sys[128];
	snprintf(sys, sizeof(sys), "/sys/module/%s", module);
	if (access(sys, F_OK) == 0)
		return 0;
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);
	struct kmod_list *list = NULL, *it;
	int r;

	if (!ctx)
		return log_error_errno(ENOMEM, "kmod: cannot create a context");
	kmod_load_resources(ctx);
	r = kmod_module_new_from_lookup(ctx, module, &list);
	if (r < 0 || !list) {
		struct utsname u;
		uname(&u);
		r = log_error_errno(ENOENT, "kernel module %s not found for kernel %s; this kernel lacks "
				    "device-mapper support (install the matching linux-modules package)",
				    module, u.release);
		goto out;
	}
	kmod_list_foreach(it, list) {
		struct kmod_module *mod = kmod_module_get_module(it);
		int state = kmod_module_get_initstate(mod);
		if (state == KMOD_MODULE_LIVE || state == KMOD_MODULE_BUILTIN) {
			kmod_module_unref(mod);
			r = 0;
			continue;
		}
		r = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL, NULL);
		if (r < 0)
			log_error_errno(r, "cannot load kernel module %s: %m", kmod_module_get_name(mod));
		else
			log_debug("loaded kernel module %s", kmod_module_get_name(mod));
		kmod_module_unref(mod);
		if (r < 0)
			break;
	}
	kmod_module_unref_list(list);
out:
	kmod_unref(ctx);
	return r;
}
