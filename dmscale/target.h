/* Pool targets behind one interface: dm-linear and dm-thin (pure planning). */
#ifndef DMSCALE_TARGET_H
#define DMSCALE_TARGET_H
#include <stdbool.h>
#include "dmscale/reconcile.h"

struct dms_target_ops {
	const char *name;                         /* "linear" | "thin" */
	/* The pool's dm devices, in the order they are observed and set up. */
	const enum dms_rc_role *roles;
	size_t nroles;
	/* Append the actions that make the dm devices match the labels. Returns
	 * 0 when the filesystem's device (VOL) is up to date in the observed
	 * state, 1 when the plan must stop here (p->more set: the next step needs
	 * what the kernel will report after these actions), or -errno. */
	int (*plan_devices)(const struct dms_rc_input *in, struct dms_rc_plan *p);
	/* Size of the filesystem's device. */
	bytes_t (*fs_device_bytes)(const struct dms_label *l);
	bool grows_fs;                            /* linear: grow the fs online with the device */
	bool discard;                             /* thin: mount with online discard */
};

extern const struct dms_target_ops dms_target_linear;
extern const struct dms_target_ops dms_target_thin;

/* The ops of a label's target (NULL for an unknown one). */
const struct dms_target_ops *dms_target_ops_for(uint32_t target);
#endif
