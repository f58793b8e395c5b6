/* Executor: observe, plan (reconcile.c), run the actions over a host, repeat. */
#ifndef DMSCALE_EXEC_H
#define DMSCALE_EXEC_H
#include "dmscale/host.h"

/* Converge the system to the complete assembly `a`: members[i] is the device
 * carrying member i. Returns 0 or -errno (logged). */
int dms_reconcile_run(const struct dms_host *h, const struct dms_assembly *a,
		      const struct dms_device *const members[], const struct dms_pool_params *pp);
#endif
