/* The daemon's deletions end to end, with the pool's membership and the
 * volumes' labels injected and EC2 behind a fake transport (issue 12 item 2):
 * a volume that left the pending list while the pool's labels could not be
 * planned (-ENOTUNIQ: membership UNKNOWN) is neither detached nor deleted, nor
 * is one whose own label names a pool; only "not a member" and "no label"
 * deletes. Covers check_waits (both paths), the cleanup check of a failed
 * provisioning, and the retry list. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmscale/log.h"
#include "dmscale/pending.h"
#include "dmscale/status.h"
#include "ec2/daemon_priv.h"

#define POOL "unittest-keep"
#define VOL "vol-0123456789abcdef0"
#define INSTANCE "i-0123456789abcdef0"

static struct {
	enum dms_vol_membership membership;
	enum dms_volume_label label;
	const char *label_pool;
	unsigned asked_membership, asked_label;
	char actions[32][40];
	size_t n_actions;
	bool deleted;
} W;

static enum dms_vol_membership fake_membership(void *ud, const char *pool, const char *vol)
{
	(void)ud;
	assert_string_equal(pool, POOL);
	assert_string_equal(vol, VOL);
	W.asked_membership++;
	return W.membership;
}

static enum dms_volume_label fake_label(const char *vol, char pool[DMS_POOL_NAME_MAX])
{
	assert_string_equal(vol, VOL);
	W.asked_label++;
	if (W.label_pool)
		snprintf(pool, DMS_POOL_NAME_MAX, "%s", W.label_pool);
	return W.label;
}

static int reply(struct http_response *resp, const char *body)
{
	resp->status = 200;
	resp->body = strdup(body);
	resp->len = strlen(body);
	return 0;
}

static int fake_send(void *ud, const struct http_request *req, struct http_response *resp)
{
	(void)ud;
	memset(resp, 0, sizeof(*resp));
	const char *a = req->body + strlen("Action=");
	size_t n = strcspn(a, "&");
	if (W.n_actions < 32)
		snprintf(W.actions[W.n_actions++], 40, "%.*s", (int)n, a);
	if (!strncmp(a, "DescribeVolumes", n))
		return reply(resp, W.deleted ? "<DescribeVolumesResponse><volumeSet/></DescribeVolumesResponse>"
				   : "<DescribeVolumesResponse><volumeSet><item><volumeId>" VOL "</volumeId>"
				     "<status>available</status></item></volumeSet></DescribeVolumesResponse>");
	if (!strncmp(a, "DeleteVolume", n)) {
		W.deleted = true;
		return reply(resp, "<DeleteVolumeResponse><return>true</return></DeleteVolumeResponse>");
	}
	return reply(resp, "<Response/>");
}

static bool called(const char *action)
{
	for (size_t i = 0; i < W.n_actions; i++)
		if (!strcmp(W.actions[i], action))
			return true;
	return false;
}

static double t_mono(void *ud) { (void)ud; return 0; }
static time_t t_wall(void *ud) { (void)ud; return 1700000000; }
static void t_sleep(void *ud, unsigned ms) { (void)ud; (void)ms; }

static void quiet(int level, const char *line, void *ud)
{
	(void)level;
	(void)line;
	(void)ud;
}

static char state_dir[64];

static struct daemon *new_daemon(void)
{
	memset(&W, 0, sizeof(W));
	struct daemon *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	d->st = calloc(1, sizeof(*d->st));
	assert_non_null(d->st);
	dms_config_defaults(&d->cfg);
	strcpy(d->cfg.pool, POOL);
	d->membership = fake_membership;
	d->read_label = fake_label;
	static struct aws_credentials creds;
	strcpy(creds.access_key_id, "AKIDEXAMPLE");
	strcpy(creds.secret_access_key, "secret");
	struct ec2_client_params p = {
		.region = "us-east-1", .endpoint = "http://127.0.0.1:1", .instance_id = INSTANCE,
		.availability_zone = "us-east-1a", .static_creds = &creds, .rng_seed = 1,
	};
	struct ec2_transport t = {fake_send, NULL};
	struct ec2_clock k = {t_mono, t_wall, t_sleep, NULL};
	assert_int_equal(ec2_client_setup(&d->ec2, &p, &t, &k), 0);
	d->ec2_ready = true;
	return d;
}

static void free_daemon(struct daemon *d)
{
	ec2_client_free(&d->ec2);
	free(d->st);
	free(d);
	char p[128];
	snprintf(p, sizeof(p), "%s/" POOL "/pending", state_dir);
	unlink(p);
}

static void add_wait(struct daemon *d, double deadline)
{
	struct wait_entry *w = &d->waits[d->n_waits++];
	memset(w, 0, sizeof(*w));
	strcpy(w->id, VOL);
	w->t0 = 1;
	w->deadline = deadline;
}

/* check_waits: the volume left the pending list (udev's attach took it) */
static void test_left_pending(void **state)
{
	(void)state;
	static const struct {
		enum dms_vol_membership m;
		enum dms_volume_label l;
		const char *label_pool;
		bool deleted;
	} cases[] = {
		{DMS_MEMBERSHIP_UNKNOWN, DMS_VOLUME_LABEL_NO_DEVICE, NULL, false},   /* the bug */
		{DMS_MEMBERSHIP_UNKNOWN, DMS_VOLUME_LABEL_BLANK, NULL, false},
		{DMS_MEMBERSHIP_NOT_MEMBER, DMS_VOLUME_LABEL_POOL, POOL, false},     /* its label: ours */
		{DMS_MEMBERSHIP_NOT_MEMBER, DMS_VOLUME_LABEL_POOL, "other", false},
		{DMS_MEMBERSHIP_NOT_MEMBER, DMS_VOLUME_LABEL_UNKNOWN, NULL, false},
		{DMS_MEMBERSHIP_MEMBER, DMS_VOLUME_LABEL_BLANK, NULL, false},
		{DMS_MEMBERSHIP_NOT_MEMBER, DMS_VOLUME_LABEL_BLANK, NULL, true},
		{DMS_MEMBERSHIP_NOT_MEMBER, DMS_VOLUME_LABEL_NO_DEVICE, NULL, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct daemon *d = new_daemon();
		W.membership = cases[i].m;
		W.label = cases[i].l;
		W.label_pool = cases[i].label_pool;
		add_wait(d, 1e9);
		daemon_check_waits(d, 100);
		assert_int_equal(d->n_waits, 0);
		assert_int_equal(W.asked_membership, 1);
		assert_int_equal(W.asked_label, cases[i].m == DMS_MEMBERSHIP_NOT_MEMBER ? 1 : 0);
		assert_int_equal(called("DeleteVolume"), cases[i].deleted);
		assert_false(called("DetachVolume"));
		assert_int_equal(d->n_retry_delete, 0);
		if (cases[i].m == DMS_MEMBERSHIP_MEMBER)
			assert_non_null(strstr(d->last_result, "appended"));
		free_daemon(d);
	}
}

/* check_waits: attach_timeout_s passed while it was still pending */
static void test_deadline(void **state)
{
	(void)state;
	for (int del = 0; del < 2; del++) {
		struct daemon *d = new_daemon();
		assert_int_equal(dms_pending_add(NULL, POOL, VOL), 0);
		W.membership = del ? DMS_MEMBERSHIP_NOT_MEMBER : DMS_MEMBERSHIP_UNKNOWN;
		W.label = DMS_VOLUME_LABEL_NO_DEVICE;
		add_wait(d, 50);
		daemon_check_waits(d, 100);
		assert_int_equal(d->n_waits, 0);
		assert_int_equal(dms_pending_contains(NULL, POOL, VOL), 0);   /* out of pending: udev cannot claim it */
		assert_int_equal(d->failed, 1);
		assert_int_equal(called("DeleteVolume"), del);
		free_daemon(d);
	}
}

/* ec2_provision_volume's cleanup check, and the retry list */
static void test_cleanup_check_and_retries(void **state)
{
	(void)state;
	struct daemon *d = new_daemon();
	W.membership = DMS_MEMBERSHIP_UNKNOWN;
	assert_int_equal(daemon_on_stage(d, EC2_STAGE_CLEANUP_CHECK, VOL, "t", NULL), 1);   /* keep */
	W.membership = DMS_MEMBERSHIP_NOT_MEMBER;
	W.label = DMS_VOLUME_LABEL_POOL;
	W.label_pool = "other";
	assert_int_equal(daemon_on_stage(d, EC2_STAGE_CLEANUP_CHECK, VOL, "t", NULL), 1);   /* keep */
	W.label = DMS_VOLUME_LABEL_NO_DEVICE;
	assert_int_equal(daemon_on_stage(d, EC2_STAGE_CLEANUP_CHECK, VOL, "t", NULL), 0);   /* delete */
	/* EC2 could not delete it now: remembered ... */
	assert_int_equal(daemon_on_stage(d, EC2_STAGE_CLEANUP_FAILED, VOL, "t", NULL), 0);
	assert_int_equal(d->n_retry_delete, 1);
	/* ... but by the retry, the membership cannot be read: kept in the list, not deleted */
	W.membership = DMS_MEMBERSHIP_UNKNOWN;
	d->next_retry_delete = 0;
	daemon_retry_deletes(d, 1000);
	assert_false(called("DeleteVolume"));
	assert_int_equal(d->n_retry_delete, 1);
	/* it joined meanwhile: dropped from the list, never deleted */
	W.membership = DMS_MEMBERSHIP_MEMBER;
	d->next_retry_delete = 0;
	daemon_retry_deletes(d, 1000);
	assert_false(called("DeleteVolume"));
	assert_int_equal(d->n_retry_delete, 0);
	/* a cleanup failure of a volume that is kept is not remembered for deletion */
	W.membership = DMS_MEMBERSHIP_UNKNOWN;
	assert_int_equal(daemon_on_stage(d, EC2_STAGE_CLEANUP_FAILED, VOL, "t", NULL), 0);
	assert_int_equal(d->n_retry_delete, 0);
	/* certainly not ours: deleted on retry */
	W.membership = DMS_MEMBERSHIP_NOT_MEMBER;
	W.label = DMS_VOLUME_LABEL_BLANK;
	assert_int_equal(daemon_on_stage(d, EC2_STAGE_CLEANUP_FAILED, VOL, "t", NULL), 0);
	d->next_retry_delete = 0;
	daemon_retry_deletes(d, 1000);
	assert_true(called("DeleteVolume"));
	assert_int_equal(d->n_retry_delete, 0);
	free_daemon(d);
}

static int setup(void **state)
{
	(void)state;
	log_set_sink(quiet, NULL);
	strcpy(state_dir, "/tmp/dmscale-keep-XXXXXX");
	assert_non_null(mkdtemp(state_dir));
	setenv("DMSCALE_STATE_DIR", state_dir, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char p[128];
	snprintf(p, sizeof(p), "%s/" POOL "/pending.lock", state_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/" POOL, state_dir);
	rmdir(p);
	rmdir(state_dir);
	unlink(DMS_RUN_DIR "/" POOL ".lock");   /* dms_pool_lock's, when run as root */
	log_set_sink(NULL, NULL);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_left_pending),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_cleanup_check_and_retries),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
