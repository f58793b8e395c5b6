/* dm-linear target (pure): one device, the members' data areas in table order. */
#include <inttypes.h>
#include <stdio.h>

#include "dmscale/failpoint.h"
#include "dmscale/log.h"
#include "dmscale/target.h"

static int linear_plan_devices(const struct dms_rc_input *in, struct dms_rc_plan *p)
{
	const struct dms_label *l = &in->a->label;
	struct dms_dm_target *tg = p->want[DMS_RC_VOL];
	size_t n;
	sectors_t total;
	char name[128];
	int r = dms_rc_linear_table(in, tg, &n, &total);
	if (r < 0)
		return r;
	r = dms_rc_ensure(in, p, DMS_RC_VOL, tg, n, false);
	if (r <= 0)
		return r;
	struct dms_rc_action *a = &p->act[p->n - 1];
	dms_rc_dm_name(l->pool_name, DMS_RC_VOL, name, sizeof(name));
	if (r == 1) {
		snprintf(a->note, sizeof(a->note), "pool %s: activated /dev/mapper/%s, %u member(s), %" PRIu64
			 " bytes, generation %" PRIu64, l->pool_name, name, l->member_count,
			 sectors_to_bytes(total), l->generation);
		return 1;               /* mount and grow once the kernel gave it a number */
	}
	snprintf(a->note, sizeof(a->note), "pool %s: table reloaded, %u member(s), now %" PRIu64
		 " bytes, generation %" PRIu64, l->pool_name, l->member_count, sectors_to_bytes(total),
		 l->generation);
	a->test_stop = DMS_FP("attach:reloaded");
	/* Only targets appended: resume without freezing the filesystem. */
	a->append = dms_rc_table_extends(&in->dev[DMS_RC_VOL], tg, n);
	return 0;
}

static bytes_t linear_fs_bytes(const struct dms_label *l)
{
	return dms_label_data_bytes(l);
}

static const enum dms_rc_role linear_roles[] = { DMS_RC_VOL };

const struct dms_target_ops dms_target_linear = {
	.name = "linear",
	.roles = linear_roles,
	.nroles = 1,
	.plan_devices = linear_plan_devices,
	.fs_device_bytes = linear_fs_bytes,
	.grows_fs = true,
	.discard = false,
};
