/* Planning (pure): which devices form which pool, and the dm tables. */
#ifndef DMSCALE_PLAN_H
#define DMSCALE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dmscale/label.h"

/* One device found on the system with the label read from it. */
struct dms_found {
	const char *devnode;          /* "/dev/nvme1n1" — not owned */
	struct dms_label label;
	unsigned torn;                /* copies that did not decode: 1 = A, 2 = B (0: both valid) */
	bool live;                    /* a device of the pool's live dm table (its deps), now */
};

struct dms_assembly {
	uint8_t pool_uuid[16];
	char pool_name[DMS_POOL_NAME_MAX];
	uint64_t generation;          /* the generation chosen */
	struct dms_label label;       /* the member list of that generation (copied from a newest label) */
	size_t member_found[DMS_MAX_MEMBERS]; /* index into the found[] array for each member */
	size_t missing_count;         /* members of the newest generation not found */
	char missing[DMS_MAX_MEMBERS][DMS_VOLUME_ID_MAX + 40]; /* volume id, or "member <uuid>" */
	int stale[DMS_MAX_MEMBERS];   /* member's own label is older than generation: rewrite it */
	int repair[DMS_MAX_MEMBERS];  /* one copy of the member's label is torn: rewrite both (§5.2) */
	uint64_t newest_generation;   /* newest generation seen in any label of this pool */
	size_t clones;                /* devices ignored as clones of a live member (see below) */
	size_t clone_found[DMS_MAX_MEMBERS]; /* the first of them: index into found[] */
	size_t clone_of[DMS_MAX_MEMBERS];    /* ... and the live member's device it copies */
	size_t dup_found[2];          /* -ENOTUNIQ on a member uuid: the two devices carrying it */
};

/* For the pool named `pool_name` (or the pool with `pool_uuid` if not NULL),
 * choose what to activate from found[0..n):
 *  - the generation is the newest one carried by any found label of the pool
 *    (labels are written new-member-first, so a crash before the old members
 *    were relabelled leaves that newer generation only on the new device);
 *  - every member of that generation's list must be present (a found device
 *    with a label of this pool whose member_uuid matches, at any generation);
 *    otherwise -ENODEV with missing[] naming the absent volume ids: never fall
 *    back to an older, shorter list (the filesystem may already span the
 *    missing member);
 *  - labels at the newest generation that disagree: a state confirmed by an
 *    existing member (a label that is not its table's last entry) wins over
 *    states carried only by their own appended device, which are ignored;
 *    two confirmed states, or none, => -EUCLEAN (docs/FORMAT.md §6.3);
 *  - members whose own label is older than the chosen generation are marked
 *    stale[] so the caller rewrites them (finishing an interrupted attach);
 *  - members with a torn copy (found[].torn) are marked repair[];
 *  - two found devices with the same member uuid => -ENOTUNIQ (cloned volume),
 *    dup_found[] naming both; except that when one of them is `live` (in the
 *    pool's live dm table) and the other is not and carries no newer
 *    generation, the other is a clone of a live member: it is ignored
 *    (clone_found[], never written, mounted or deleted) and the live pool
 *    keeps its members (docs/FORMAT.md §6 rule 2);
 * Returns 0 (assembly filled), -ENOENT (no device of that pool), -ENODEV
 * (incomplete: missing[] filled), -ENOTUNIQ. */
int dms_plan_assembly(const struct dms_found *found, size_t n, const char *pool_name,
		      const uint8_t *pool_uuid, struct dms_assembly *out);

/* One segment: dm-linear over one member, or (stripes >= 2) dm-stripe over
 * members member_index .. member_index + stripes - 1. */
struct dms_segment {
	sectors_t start_sectors;      /* logical start in the target */
	sectors_t length_sectors;
	uint32_t member_index;
	sectors_t offset_sectors;     /* offset on the member device (linear) */
	uint32_t stripes;             /* 0: linear; >= 2: striped */
	sectors_t chunk_sectors;      /* striped: chunk size */
};

struct dms_table {
	size_t count;
	struct dms_segment seg[DMS_MAX_MEMBERS];
	sectors_t total_sectors;
};

/* The table over members[0..member_count) in index order, each member's data
 * area: with a stripe (label v2), one striped segment over the first
 * stripe_count members, then one linear segment per member. -EINVAL if any
 * length or offset is not whole sectors or zero, or the stripe is malformed. */
int dms_plan_linear(const struct dms_label *l, struct dms_table *t);

/* Format segment i as the dm-linear params "MAJ:MIN OFFSET" into out. */
int dms_segment_params(const struct dms_segment *s, unsigned major, unsigned minor, char *out, size_t outlen);

/* Build the label for appending a device to pool `cur`: generation+1, the new
 * member at index member_count. `new_member` must have a uuid and layout.
 * -E2BIG when the pool already has DMS_MAX_MEMBERS. */
int dms_plan_append(const struct dms_label *cur, const struct dms_member *new_member, struct dms_label *next);

/* The label to write on member i of `l` (same list, member_uuid/member_index set). */
void dms_label_for_member(const struct dms_label *l, uint32_t i, struct dms_label *out);

/* A new pool on one device (init). */
struct dms_init_spec {
	const char *name, *fstype;
	uint32_t target;              /* DMS_TARGET_LINEAR | DMS_TARGET_THIN */
	bytes_t virtual_bytes;        /* thin: 0 = max_data_bytes, else DMS_THIN_DEFAULT_VIRTUAL */
	bytes_t max_data_bytes;       /* thin: metadata sizing; 0 = DMS_THIN_DEFAULT_VIRTUAL */
	bytes_t device_bytes;
	const char *volume_id;        /* "" if not an EBS volume */
	uint8_t pool_uuid[16], member_uuid[16];
	uint64_t now_unix;
};

/* A range to zero on the device before its label is written. */
struct dms_zero_range {
	bytes_t offset_bytes, length_bytes;
};
#define DMS_INIT_MAX_ZERO 2

/* The generation-1 label of a new pool, and the ranges to zero first: the
 * start of the data area (an old filesystem or partition there must never be
 * taken for "our interrupted mkfs") and, for thin, the metadata superblock
 * (the kernel formats fresh metadata over zeros). -ERANGE: the device is too
 * small (for the thin metadata area); -EINVAL: bad spec. */
int dms_plan_init(const struct dms_init_spec *spec, struct dms_label *l, struct dms_zero_range *zero,
		  size_t *nzero);
#endif
