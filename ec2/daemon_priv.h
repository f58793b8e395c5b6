/* `dmscale daemon` internals shared by its files: daemon.c (command line,
 * loop, tick), daemon_pool.c (watching the pool, membership and labels),
 * daemon_volumes.c (provisioning, waits, deletions, start-up recovery) and
 * daemon_state.c (the state file and metrics). Not an API. */
#ifndef DMSCALE_EC2_DAEMON_PRIV_H
#define DMSCALE_EC2_DAEMON_PRIV_H
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dmscale/label.h"
#include "dmscale/thin.h"
#include "dmscale/units.h"
#include "ec2/config.h"
#include "ec2/connect.h"
#include "ec2/decide.h"
#include "ec2/ec2.h"
#include "ec2/policy.h"

#define MAX_WAITS 8
#define MAX_RETRY_DELETE 16
#define POOL_REFRESH_IDLE_S 5.0    /* while the pool is not active/mounted */
#define STATE_WRITE_S 10.0
#define RETRY_DELETE_S 60.0
#define MAX_RECOVER_VOLUMES 128
#define THIN_SAFETY_S 5.0          /* thin: timer between dm events when nothing is in flight */
#define THIN_META_GROW_PERCENT 60  /* thin: grow metadata above this usage */
#define THIN_META_RETRY_S 30.0

struct dms_status;

struct wait_entry {
	char id[DMS_VOLUME_ID_MAX];
	double t0;              /* CreateVolume about to be sent (0: adopted at start) */
	double deadline;
	double create_to_attached_s;
	uint64_t size_gib;
	bytes_t fs_before;
};

struct daemon {
	struct dms_config cfg;  /* secrets wiped: the connector holds them */
	struct policy_limits limits;
	struct ec2_connector conn;
	struct ec2_client ec2;
	bool ec2_ready;
	bool recovered;

	/* the pool, refreshed by dms_status_collect outside the hot path */
	struct dms_status *st;
	int collect_r;          /* what dms_status_collect returned for *st */
	dms_membership_fn membership;   /* is a volume a member? (3 states) */
	void *membership_ud;
	/* what a volume's own label says (daemon_read_volume_label; tests inject) */
	enum dms_volume_label (*read_label)(const char *vol, char pool[DMS_POOL_NAME_MAX]);
	bool pool_ready;        /* active and mounted at mountpoint */
	dev_t fs_dev;
	char mountpoint[1024];
	double next_pool_refresh;
	uint32_t attachments_in_use;

	/* per-tick state (no allocation) */
	struct fill_rate fr;
	bytes_t total, free_b, used;
	double attach_latency_s;     /* measured CreateVolume -> fs grown; 0 = none yet */
	double last_attach_s;        /* the same, of the last volume appended */

	/* in flight */
	struct wait_entry waits[MAX_WAITS];
	size_t n_waits;
	char cur_vol[DMS_VOLUME_ID_MAX];   /* provisioning in progress */
	const char *cur_step;              /* last step it reached, for the status */
	bool cur_deleted;                  /* its cleanup deleted the volume */
	enum dms_keep_verdict cur_verdict; /* its cleanup's keep-or-delete answer */
	double cur_t0;
	uint64_t cur_size;

	char retry_delete[MAX_RETRY_DELETE][DMS_VOLUME_ID_MAX];
	size_t n_retry_delete;
	double next_retry_delete;

	bool once;              /* --once: at most one provisioning */
	bool provisioned_once;

	/* provisioning failures back off */
	double next_provision;
	double provision_backoff;

	/* logged once per change */
	bool needed;
	double t_needed;
	enum policy_reason last_blocked;
	bool warned_unmounted;

	/* for the state file / status */
	double next_state_write;
	char last_result[160];
	unsigned long provisioned, failed;
	double last_reaction_s;
	struct policy_decision last_decision;
	int metrics_err;             /* last metrics_textfile error, logged once */

	/* dm-thin pools: usage from the pool's status, wake-ups from its dm events */
	bool thin;
	char tpool[160];
	unsigned event_nr;
	enum dms_thin_mode thin_mode;
	double next_meta_grow;

	/* in-process attach (daemon_udev.c): NULL when udev could not be watched */
	struct udev *udev;
	struct udev_monitor *udev_mon;
	struct ec2_clock clock;         /* daemon_udev_clock */
};

extern volatile sig_atomic_t daemon_stop_requested;

double daemon_mono_s(void);
void daemon_sleep_until(double until);
/* Same, and return 1 early when fd (>= 0) becomes readable. */
int daemon_sleep_until_fd(double until, int fd);
void daemon_fmt_bytes(bytes_t b, char *out, size_t len);

/* daemon_pool.c */
int daemon_refresh_pool(struct daemon *d);
int daemon_sample(struct daemon *d, double now);
void daemon_wait_thin_event(struct daemon *d, double wait_s);
/* log a thin pool mode change now (from inside the EC2 client's waits) */
void daemon_thin_note_mode(struct daemon *d);
/* the default dms_membership_fn (ud: the daemon): dms_status_collect, any
 * error or missing member list mapped to UNKNOWN */
enum dms_vol_membership daemon_status_membership(void *ud, const char *pool, const char *volume_id);
enum dms_volume_label daemon_read_volume_label(const char *vol, char pool[DMS_POOL_NAME_MAX]);
/* Keep or delete vol: asks the membership (fresh) and reads the volume's own label. */
enum dms_keep_verdict daemon_keep_or_delete(struct daemon *d, const char *vol);

/* daemon_volumes.c */
int daemon_on_stage(void *ud, enum ec2_stage stage, const char *vol, const char *token, const char *dev);
void daemon_provision(struct daemon *d, const struct policy_decision *dec, double now);
void daemon_check_waits(struct daemon *d, double now);
void daemon_retry_deletes(struct daemon *d, double now);
void daemon_count_attachments(struct daemon *d);
void daemon_recover(struct daemon *d);

/* daemon_udev.c: the volumes the daemon waits for, appended as their disks
 * appear (dms_cmd_attach, same lock and code as dmscale-attach@) */
int daemon_udev_open(struct daemon *d);
void daemon_udev_close(struct daemon *d);
int daemon_udev_fd(const struct daemon *d);        /* -1: none */
void daemon_udev_attach(struct daemon *d);         /* drain the events, append */
/* The EC2 client's clock, whose waits append the disks that appear. */
const struct ec2_clock *daemon_udev_clock(struct daemon *d);

/* daemon_state.c */
void daemon_write_state(struct daemon *d, double now);

#endif
