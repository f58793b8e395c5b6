/* `dmscale status`: collect a pool's live state and print it (table, JSON). */
#ifndef DMSCALE_STATUS_H
#define DMSCALE_STATUS_H
#include <stdbool.h>
#include <stdio.h>
#include "dmscale/label.h"
#include "dmscale/pending.h"

struct dms_status_member {
	uint32_t index;
	char device[256];
	char volume_id[DMS_VOLUME_ID_MAX];
	bytes_t size_bytes;
	bytes_t data_offset_bytes;
	bytes_t data_bytes;
	bool have_layout;                 /* false when labels were not readable */
	char kind[16];                    /* "ebs" | "instance-store" (from the label); "" unknown */
	bool striped;                     /* in the stripe of the first tier */
};

/* dm-thin mode only: the thin-pool's kernel status (target "thin"). */
struct dms_status_thin {
	bool known;                       /* false: linear, or pool not active */
	bytes_t virtual_bytes;            /* thin volume size (the filesystem's device) */
	bytes_t data_used_bytes, data_total_bytes;
	bytes_t metadata_used_bytes, metadata_total_bytes;
	bytes_t low_water_mark_bytes;
	char mode[24];                    /* rw | ro | out_of_data_space | fail */
	bool needs_check;
};

struct dms_status {
	char name[DMS_POOL_NAME_MAX];
	char target[16];
	char dm_device[256];
	char uuid[37];
	uint64_t generation;              /* 0: unknown (not root) */
	char state[16];                   /* active | inactive | degraded */
	char mountpoint[1024];
	bytes_t size_bytes;
	char fs_type[DMS_FSTYPE_MAX];
	bool fs_mounted;
	bytes_t fs_size_bytes, fs_used_bytes, fs_free_bytes;
	uint32_t member_count;
	uint32_t stripe_count;            /* members in the first tier's dm-stripe (0: none) */
	bytes_t stripe_chunk_bytes;
	struct dms_status_member members[DMS_MAX_MEMBERS];
	struct dms_pending pending;
	struct dms_status_thin pool;      /* target "thin" only */
	bool privileged;
	bool labels_found;                /* root: some label names this pool */
	bool members_known;               /* root: every label read and planned: members[] is the whole
	                                     answer (else a volume's membership is unknown) */
	char note[256];
	void *daemon;                     /* json_t *: the daemon's view, NULL if none */
	bool daemon_running;
};

int dms_status_collect(const char *pool, struct dms_status *st);
/* Pure: members that are EBS volumes (instance-store members are not, and do
 * not count against max_volumes; a member of unknown kind counts). */
uint32_t dms_status_ebs_members(const struct dms_status *st);
int dms_status_print_json(const struct dms_status *st, FILE *f);
int dms_status_print_table(const struct dms_status *st, FILE *f);
void dms_status_release(struct dms_status *st);
/* Pure: does anything say this pool exists (labels, an active device, a
 * pending list, the daemon's state)? */
bool dms_status_pool_exists(const struct dms_status *st);
/* The command: collect and print. A pool that does not exist: one line on
 * stderr (or a JSON object with "exists": false) and -ENOENT (exit 1). */
int dms_cmd_status(const char *pool, bool json, bool prometheus);
#endif
