/* Scratch recreate (pure): a pool whose instance-store members came back
 * blank (stop/start, a replaced disk) is rebuilt from the blank instance-store
 * disks and its surviving EBS members, at a new pool uuid of the same lineage
 * (docs/FORMAT.md §6.4). The plan says which devices, in which order, with
 * which labels; pool_recreate.c runs it. */
#ifndef DMSCALE_RECREATE_H
#define DMSCALE_RECREATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dmscale/label.h"
#include "dmscale/plan.h"

/* A blank instance-store disk that may join the new pool. */
struct dms_recreate_blank {
	const char *devnode;
	bytes_t size_bytes;
};

struct dms_recreate_spec {
	const char *name;                             /* the pool, by name */
	const struct dms_found *found;                /* every labelled device of the machine */
	size_t n;
	const struct dms_recreate_blank *blank;       /* blank instance-store disks (not in found) */
	size_t nblank;
	uint8_t new_pool_uuid[16];                    /* random, from the caller */
	uint8_t new_member_uuid[DMS_MAX_STRIPE][16];  /* for the instance-store members */
	uint64_t now_unix;
	bytes_t chunk_bytes;                          /* DMS_STRIPE_CHUNK_BYTES */
};

/* Where a member of the new pool comes from. */
struct dms_recreate_src {
	bool blank;                                   /* a blank disk: blank[index] */
	size_t index;                                 /* else found[index] */
};

#define DMS_RECREATE_NOT_NEEDED 1

struct dms_recreate_plan {
	struct dms_label label;                       /* the new pool (generation 1), member_index 0 */
	struct dms_recreate_src src[DMS_MAX_MEMBERS];
	uint32_t istore_count;                        /* members 0..istore_count-1: instance store */
	/* what is discarded, for the log */
	uint8_t old_pool_uuid[16];                    /* the newest incarnation found */
	uint32_t old_epoch;
	bytes_t old_data_bytes;                       /* its size */
	uint32_t lost_count;                          /* its instance-store members not found */
	uint32_t old_istore_count;                    /* the newest incarnation's instance-store members */
	size_t incarnations;                          /* pool uuids of the lineage found (2+: an
	                                                 interrupted recreate) */
	size_t ignored_blank;                         /* blank disks beyond DMS_MAX_STRIPE */
	/* -ENODEV: EBS members that must be present first */
	size_t missing_count;
	char missing[8][DMS_VOLUME_ID_MAX + 40];
};

/* Returns
 *   0                        recreate: plan filled;
 *   DMS_RECREATE_NOT_NEEDED  the pool is complete, or lacks an EBS member, or
 *                            is not a linear pool, or is not found: the
 *                            ordinary assembly result stands;
 *   -ENODEV                  a recreate is due but EBS members are missing
 *                            (missing[]): wait for them, never drop one;
 *   -ENOTUNIQ                the name is carried by unrelated pools;
 *   -EUCLEAN                 two incarnations claim the same epoch;
 *   -E2BIG / -EINVAL.
 * Only devices whose labels carry the pool's name and lineage, and the blank
 * disks given, are ever in the plan: never another pool's device. */
int dms_recreate_plan(const struct dms_recreate_spec *s, struct dms_recreate_plan *p);

/* Whether a due recreate (plan from dms_recreate_plan) is short of
 * instance-store disks: udev has not probed every NVMe disk (unprobed > 0),
 * or the new pool would have fewer instance-store members than the old one
 * had (on a stop/start the instance comes back with as many disks, so one is
 * not visible yet). While `assemble --wait-members` lasts, a short recreate
 * waits; after it (or with no wait) it runs over what is there, warned. */
bool dms_recreate_short(const struct dms_recreate_plan *p, size_t unprobed);

/* The write order of a recreate (crash-safe, docs/FORMAT.md §6.4). */
enum dms_recreate_step {
	DMS_RECREATE_ZERO,        /* zero the first MiB of every new member's data area */
	DMS_RECREATE_EBS_A,       /* copy A of every relabelled EBS member ... */
	DMS_RECREATE_EBS_B,       /* ... then copy B (each keeps one valid copy throughout) */
	DMS_RECREATE_IS_B,        /* copy B of every instance-store member ... */
	DMS_RECREATE_IS_A,        /* ... then copy A (a blank disk reads blank or labelled) */
	DMS_RECREATE_STEPS
};


/* The device operations a recreate needs (pool_recreate.c: the real devices;
 * unit tests: a fake that tears writes). Members are named by their index in
 * the plan's label. */
struct dms_recreate_io {
	void *ctx;
	int (*zero)(void *ctx, uint32_t member, bytes_t offset_bytes, bytes_t length_bytes);
	/* copy `copy` of labels[i] onto members[i], for all i, durably */
	int (*write_copy)(void *ctx, const uint32_t *members, const struct dms_label *labels, size_t n,
			  unsigned copy);
};

/* Run the plan in the order of enum dms_recreate_step; stop at the first
 * failure (*failed_step set) and return it. Whatever step fails, the devices
 * read back as one of: the old pool (unchanged), a mix of the old and new
 * incarnations that dms_recreate_plan plans again, or the complete new pool
 * (docs/FORMAT.md §6.4). */
int dms_recreate_run(const struct dms_recreate_plan *p, const struct dms_recreate_io *io,
		     enum dms_recreate_step *failed_step);
#endif
