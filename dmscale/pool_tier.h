/* init over instance storage: the first tier (a dm-stripe over the blank
 * instance-store disks, or one linear member) before the EBS device. */
#ifndef DMSCALE_POOL_TIER_H
#define DMSCALE_POOL_TIER_H
#include "dmscale/device.h"
#include "dmscale/pool.h"

/* Pure: the generation-1 label of a new linear pool over nis instance-store
 * disks (sizes is_bytes[], uuids is_uuid[]) then the EBS device; a stripe when
 * nis >= 2. -ERANGE: a disk too small; -EINVAL: bad arguments. */
struct dms_tier_spec {
	const char *name, *fstype;
	uint8_t pool_uuid[16];
	uint64_t now_unix;
	uint32_t nis;
	bytes_t is_bytes[DMS_MAX_STRIPE];
	uint8_t is_uuid[DMS_MAX_STRIPE][16];
	bytes_t ebs_bytes;
	const char *ebs_volume_id;
	uint8_t ebs_uuid[16];
	bytes_t chunk_bytes;
};
int dms_plan_init_tiered(const struct dms_tier_spec *spec, struct dms_label *l);

/* init with --instance-store auto: label the blank instance-store disks and
 * ebs (open exclusively by the caller's checks) as a new pool. Returns 1 when
 * there is no usable instance-store disk (the caller creates a plain pool),
 * 0 when the pool was labelled, or -errno (logged). */
int dms_pool_create_tiered(const struct dms_opts *o, struct dms_device *ebs);
#endif
