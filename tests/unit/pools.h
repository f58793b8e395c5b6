/* Test fixtures: pools built the way init and attach build them. */
#ifndef DMSCALE_TEST_POOLS_H
#define DMSCALE_TEST_POOLS_H
#include <stdio.h>
#include "dmscale/plan.h"

static inline void seed_uuid(uint8_t u[16], uint32_t seed)
{
	for (int i = 0; i < 16; i++)
		u[i] = (uint8_t)(seed * 29u + (uint32_t)i * 7u + 1u);
	u[0] = (uint8_t)seed;
	u[1] = (uint8_t)(seed >> 8);
}

/* Pool "scratch": member 0 of 2 GiB as init lays it out (thin: metadata for
 * up to 1 TiB), then member k of (k + 2) GiB appended; generation = count. */
static inline void make_pool(struct dms_label *l, uint32_t target, uint32_t count)
{
	struct dms_init_spec spec = { .name = "scratch", .fstype = "ext4", .target = target,
				      .device_bytes = 2 * GIB, .volume_id = "vol-00000000000000000",
				      .max_data_bytes = TIB, .now_unix = 1700000000 };
	struct dms_zero_range z[DMS_INIT_MAX_ZERO];
	size_t nz;
	seed_uuid(spec.pool_uuid, 7);
	seed_uuid(spec.member_uuid, 100);
	assert_int_equal(dms_plan_init(&spec, l, z, &nz), 0);
	for (uint32_t k = 1; k < count; k++) {
		struct dms_member m = { 0 };
		seed_uuid(m.uuid, 100 + k);
		snprintf(m.volume_id, sizeof(m.volume_id), "vol-%017x", k);
		assert_int_equal(dms_member_layout((k + 2) * GIB, 0, &m), 0);
		assert_int_equal(dms_plan_append(l, &m, l), 0);
	}
}
#endif
