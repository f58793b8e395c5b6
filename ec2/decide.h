/* The daemon's decisions (pure, no system calls): keep or delete a volume it
 * created, may it provision now, how long to back off after a failure.
 *
 * Keep-or-delete has two independent witnesses, and either one that says
 * "member" or "cannot tell" keeps the volume:
 *   - the pool's membership, from its assembly (the labels of all members):
 *     MEMBER, NOT_MEMBER, or UNKNOWN when the labels could not be planned
 *     (a clone attached, a read error, not root, ...);
 *   - the volume's own label: a volume whose label names any pool (this one
 *     or another) is never deleted, and one whose label cannot be read is
 *     kept. Only a volume that is not a member AND carries no label (read as
 *     blank, or not attached to this instance at all) is deleted. */
#ifndef DMSCALE_EC2_DECIDE_H
#define DMSCALE_EC2_DECIDE_H
#include <stdbool.h>

#include "dmscale/label.h"

struct dms_status;

enum dms_vol_membership {
	DMS_MEMBERSHIP_UNKNOWN = 0,   /* cannot tell: keep */
	DMS_MEMBERSHIP_MEMBER,
	DMS_MEMBERSHIP_NOT_MEMBER,
};
const char *dms_membership_name(enum dms_vol_membership m);

/* Is volume_id a member of pool? The daemon's way to ask the core; a pool API
 * that answers in three states can replace the default (daemon.c's, over
 * dms_status_collect) without touching the decisions. */
typedef enum dms_vol_membership (*dms_membership_fn)(void *ud, const char *pool, const char *volume_id);

/* Pure: membership from a dms_status filled by dms_status_collect (which
 * returned collect_r). Known only when collect_r is 0, the caller was root
 * (labels read), and the labels yielded a member list (generation > 0 and
 * member_count > 0); any other case, a planning error among them, is UNKNOWN. */
enum dms_vol_membership dms_membership_from_status(const struct dms_status *st, int collect_r, const char *volume_id);

/* What the volume's own label says. */
enum dms_volume_label {
	DMS_VOLUME_LABEL_UNKNOWN = 0, /* device present, label unreadable (I/O error, torn, ...) */
	DMS_VOLUME_LABEL_BLANK,       /* read: no dmscale label */
	DMS_VOLUME_LABEL_POOL,        /* a valid label naming a pool (label_pool) */
	DMS_VOLUME_LABEL_NO_DEVICE,   /* no device of this volume on this instance */
};
const char *dms_volume_label_name(enum dms_volume_label l);

struct dms_keep_input {
	enum dms_vol_membership membership;
	enum dms_volume_label label;
	char label_pool[DMS_POOL_NAME_MAX];   /* DMS_VOLUME_LABEL_POOL: the pool it names */
};

enum dms_keep_verdict {
	DMS_KEEP_MEMBER,           /* in the pool */
	DMS_KEEP_UNKNOWN,          /* membership unknown */
	DMS_KEEP_LABEL_UNREADABLE, /* its own label could not be read */
	DMS_KEEP_LABELLED,         /* its own label names a pool */
	DMS_DELETE,                /* not a member and no label: delete */
};
enum dms_keep_verdict dms_keep_decide(const struct dms_keep_input *in);
const char *dms_keep_verdict_name(enum dms_keep_verdict v);

/* May the daemon start a provisioning now (the policy already said it
 * should)? */
struct dms_provision_gate_input {
	bool stopping;          /* SIGTERM/SIGINT received */
	bool ec2_ready;
	double now_s, next_provision_s;   /* failure backoff */
	bool once, provisioned_once;      /* --once: one provisioning at most */
};
enum dms_provision_gate {
	DMS_GATE_GO,
	DMS_GATE_STOPPING,
	DMS_GATE_NO_EC2,
	DMS_GATE_BACKOFF,
	DMS_GATE_ONCE_DONE,
};
enum dms_provision_gate dms_provision_gate(const struct dms_provision_gate_input *in);

/* Backoff after a failed provisioning that returned err (-errno): 300 s for
 * an EC2 limit (-EDQUOT), 600 s for a permission error (-EACCES); otherwise
 * doubling from 10 s up to 300 s (*state holds the last doubling value; 0
 * after a success). */
double dms_provision_backoff_s(int err, double *state);
/* Backoff between EC2 client initialisations: 2, 4, ... up to 60 s. */
double dms_init_backoff_s(double *state);

#endif
