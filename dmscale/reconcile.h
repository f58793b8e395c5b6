/* Reconcile plan (pure, no syscalls): from the assembly, the kernel's live
 * state and the pool parameters, the ordered actions that converge them.
 *
 * The executor (exec.c) observes, plans, runs the actions and, when the plan
 * says `more` (it needs something only the kernel can tell: the device number
 * of a device it creates, the thin pool's status after a load), observes and
 * plans again. Every action is idempotent with respect to the observed state,
 * so a crash or failure after any step is finished by the next reconcile. */
#ifndef DMSCALE_RECONCILE_H
#define DMSCALE_RECONCILE_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "dmscale/dm.h"
#include "dmscale/plan.h"
#include "dmscale/thin.h"

/* The pool's dm devices (docs/DESIGN.md): linear uses VOL only. */
enum dms_rc_role { DMS_RC_VOL = 0, DMS_RC_TMETA, DMS_RC_TDATA, DMS_RC_TPOOL, DMS_RC_ROLES };

#define DMS_RC_DEFAULT_LOW_BYTES   (10 * GIB)
#define DMS_RC_DEFAULT_LOW_PERCENT 10.0

/* Pool parameters, as a value (no file-static configuration). */
struct dms_pool_params {
	bool low_water_set;           /* false: keep the live pool's low water mark, or the default */
	bytes_t low_water_bytes;      /* thin: free data below max(bytes, percent) raises a dm event */
	double low_water_percent;
	const char *mountpoint;       /* NULL: the saved one, else DMS_DEFAULT_MOUNTPOINT */
	bool do_mount;                /* assemble/init mount; attach only grows what is mounted */
	int scratch;                  /* lost instance storage (pool_recreate.c): enum dms_scratch */
	bool istore_may_wait;         /* assemble's members' wait lasts: a recreate waits for every
	                                 instance-store disk the pool had (dms_recreate_short) */
};

/* What assemble does with a pool whose instance-store members came back blank. */
enum dms_scratch {
	DMS_SCRATCH_IGNORE = 0,       /* not here (udev events, attach): report it as incomplete */
	DMS_SCRATCH_REFUSE,           /* scratch_recreate false: refuse, naming the blank disks */
	DMS_SCRATCH_RECREATE,         /* scratch_recreate true: recreate at a new pool uuid */
};

/* One dm device as the kernel has it. */
struct dms_rc_dev {
	bool exists;
	dev_t devnum;
	char uuid[129];
	sectors_t size_sectors;
	size_t count;                 /* targets in the live table */
	struct dms_dm_live_target tg[DMS_MAX_MEMBERS];
};

struct dms_rc_input {
	const struct dms_assembly *a;           /* complete (dms_plan_assembly returned 0) */
	dev_t member_devnum[DMS_MAX_MEMBERS];   /* the device carrying member i */
	struct dms_pool_params params;
	bool labels_done;                       /* stale/repair labels rewritten in this run */
	struct dms_rc_dev dev[DMS_RC_ROLES];
	/* The table this run loaded into each role (count 0: none): what the
	 * kernel reports for it counts as equal even if it formats it otherwise,
	 * so a table is loaded at most once per run. */
	size_t loaded_count[DMS_RC_ROLES];
	struct dms_dm_target loaded[DMS_RC_ROLES][DMS_MAX_MEMBERS];
	bool pool_status_known;                 /* TPOOL exists and its status was read */
	struct dms_thin_pool_status ps;
	bool mounted;                           /* VOL is mounted ... */
	char mounted_at[1024];                  /* ... here (the first mount) */
	int has_fs;                             /* VOL holds a signature: 1, 0, -1 not probed */
	bool mkfs_pending;                      /* an mkfs of this pool was started and not finished */
	char mountpoint[1024];                  /* where to mount: option, saved, or default */
	bool mountpoint_busy;                   /* something else is mounted there */
};

enum dms_rc_kind {
	DMS_RC_WRITE_LABEL,   /* member: rewrite both copies with the assembly's label */
	DMS_RC_CREATE,        /* role: create with the table */
	DMS_RC_RELOAD,        /* role: load the table and resume (it only grows) */
	DMS_RC_MESSAGE,       /* role: target message (thin-pool) */
	DMS_RC_MKFS,
	DMS_RC_MOUNT,
	DMS_RC_GROW_FS,
	DMS_RC_UNPEND,        /* member: drop its volume id from the pending list */
};

struct dms_rc_action {
	enum dms_rc_kind kind;
	uint32_t member;              /* WRITE_LABEL, UNPEND */
	unsigned batch;               /* WRITE_LABEL: 0 (independent writes) */
	enum dms_rc_role role;        /* CREATE, RELOAD, MESSAGE; MKFS/MOUNT/GROW_FS act on VOL */
	bool private_dev;             /* CREATE, RELOAD: no udev disk/other rules (internal layer) */
	bool append;                  /* RELOAD: the live table is a prefix of tg (no freeze needed) */
	size_t count;                 /* CREATE, RELOAD: the table */
	struct dms_dm_target *tg;     /*   (points into the plan) */
	char msg[48];                 /* MESSAGE */
	char retry_after[48];         /* MESSAGE: if msg fails, send this, then msg again (both must succeed) */
	bytes_t size_bytes;           /* MKFS, GROW_FS: the device size */
	bytes_t backing_bytes;        /* MKFS: the real data space under it (thin: less than size_bytes) */
	char mountpoint[1024];        /* MOUNT, GROW_FS */
	char note[1400];               /* logged (info) after success; MKFS: before */
	const char *test_stop;        /* test builds: stop here after success */
};

#define DMS_RC_MAX_ACTIONS (2 * DMS_MAX_MEMBERS + 16)

struct dms_rc_plan {
	size_t n;
	struct dms_rc_action act[DMS_RC_MAX_ACTIONS];
	bool more;                    /* observe and plan again after running these */
	struct dms_dm_target want[DMS_RC_ROLES][DMS_MAX_MEMBERS];
};

/* Names: "dmscale-POOL" + role suffix; uuid "DMSCALE-<pool uuid>" + suffix. */
void dms_rc_dm_name(const char *pool, enum dms_rc_role role, char *out, size_t len);
void dms_rc_dm_uuid(const uint8_t pool_uuid[16], enum dms_rc_role role, char *out, size_t len);

/* Is the live table equal to want[0..n)? The kernel may format params with
 * other whitespace (thin-pool adds a trailing space): runs of blanks compare
 * equal, leading and trailing blanks are ignored. */
bool dms_rc_table_equal(const struct dms_rc_dev *live, const struct dms_dm_target *want, size_t n);
/* The live table is a proper prefix of want (an append: no old target changes). */
bool dms_rc_table_extends(const struct dms_rc_dev *live, const struct dms_dm_target *want, size_t n);

/* The plan. Returns 0 (plan filled, possibly empty) or -errno after logging
 * why the pool must not be activated as it is (another device of the name,
 * a table that would shrink, a degraded thin pool, a busy mountpoint...). */
int dms_reconcile_plan(const struct dms_rc_input *in, struct dms_rc_plan *p);

/* Used by the targets (target_linear.c, target_thin.c). */
struct dms_rc_action *dms_rc_add(struct dms_rc_plan *p, enum dms_rc_kind kind);
/* Make role carry want[0..n): nothing (0), CREATE (1), RELOAD (2), or -errno. */
int dms_rc_ensure(const struct dms_rc_input *in, struct dms_rc_plan *p, enum dms_rc_role role,
		  const struct dms_dm_target *want, size_t n, bool private_dev);
/* The linear table over the members' data areas into tg; -errno. */
int dms_rc_linear_table(const struct dms_rc_input *in, struct dms_dm_target *tg, size_t *n,
			sectors_t *total_sectors);
#endif
