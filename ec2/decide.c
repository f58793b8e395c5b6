/* The daemon's decisions, pure. See decide.h. */
#include "ec2/decide.h"

#include <errno.h>
#include <string.h>

#include "dmscale/status.h"

const char *dms_membership_name(enum dms_vol_membership m)
{
	switch (m) {
	case DMS_MEMBERSHIP_UNKNOWN: return "unknown";
	case DMS_MEMBERSHIP_MEMBER: return "member";
	case DMS_MEMBERSHIP_NOT_MEMBER: return "not a member";
	}
	return "?";
}

enum dms_vol_membership dms_membership_from_status(const struct dms_status *st, int collect_r, const char *volume_id)
{
	if (!st || collect_r != 0 || !st->privileged || st->generation == 0 || st->member_count == 0 ||
	    st->member_count > DMS_MAX_MEMBERS || !volume_id || !volume_id[0])
		return DMS_MEMBERSHIP_UNKNOWN;
	for (uint32_t i = 0; i < st->member_count; i++)
		if (!strcmp(st->members[i].volume_id, volume_id))
			return DMS_MEMBERSHIP_MEMBER;
	return DMS_MEMBERSHIP_NOT_MEMBER;
}

const char *dms_volume_label_name(enum dms_volume_label l)
{
	switch (l) {
	case DMS_VOLUME_LABEL_UNKNOWN: return "unreadable";
	case DMS_VOLUME_LABEL_BLANK: return "blank";
	case DMS_VOLUME_LABEL_POOL: return "labelled";
	case DMS_VOLUME_LABEL_NO_DEVICE: return "no device here";
	}
	return "?";
}

enum dms_keep_verdict dms_keep_decide(const struct dms_keep_input *in)
{
	if (!in)
		return DMS_KEEP_UNKNOWN;
	switch (in->membership) {
	case DMS_MEMBERSHIP_MEMBER: return DMS_KEEP_MEMBER;
	case DMS_MEMBERSHIP_NOT_MEMBER: break;
	case DMS_MEMBERSHIP_UNKNOWN:
	default: return DMS_KEEP_UNKNOWN;
	}
	switch (in->label) {
	case DMS_VOLUME_LABEL_BLANK:
	case DMS_VOLUME_LABEL_NO_DEVICE: return DMS_DELETE;
	case DMS_VOLUME_LABEL_POOL: return DMS_KEEP_LABELLED;
	case DMS_VOLUME_LABEL_UNKNOWN:
	default: return DMS_KEEP_LABEL_UNREADABLE;
	}
}

const char *dms_keep_verdict_name(enum dms_keep_verdict v)
{
	switch (v) {
	case DMS_KEEP_MEMBER: return "a member of the pool";
	case DMS_KEEP_UNKNOWN: return "the pool's membership cannot be read";
	case DMS_KEEP_LABEL_UNREADABLE: return "its own label cannot be read";
	case DMS_KEEP_LABELLED: return "its own label names a pool";
	case DMS_DELETE: return "not a member and not labelled";
	}
	return "?";
}

enum dms_provision_gate dms_provision_gate(const struct dms_provision_gate_input *in)
{
	if (in->stopping)
		return DMS_GATE_STOPPING;
	if (!in->ec2_ready)
		return DMS_GATE_NO_EC2;
	if (in->once && in->provisioned_once)
		return DMS_GATE_ONCE_DONE;
	if (in->now_s < in->next_provision_s)
		return DMS_GATE_BACKOFF;
	return DMS_GATE_GO;
}

double dms_provision_backoff_s(int err, double *state)
{
	switch (-err) {
	case EDQUOT: return 300;   /* EC2 limit: not a loop */
	case EACCES: return 600;   /* permissions: someone has to fix the role */
	default:
		*state = *state > 0 ? (*state * 2 > 300 ? 300 : *state * 2) : 10;
		return *state;
	}
}

double dms_init_backoff_s(double *state)
{
	*state = *state > 0 ? (*state * 2 > 60 ? 60 : *state * 2) : 2;
	return *state;
}
