/* Reconcile plan (input -> actions) for every crash state of docs/FORMAT.md
 * and every state of the thin stack; the executor over a fake host that fails
 * at every step, then converges on the next run. */
#include "tests/unit/unit.h"
#include "tests/unit/pools.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dmscale/exec.h"
#include "dmscale/host.h"
#include "dmscale/plan.h"
#include "dmscale/reconcile.h"
#include "dmscale/target.h"

/* ---------------- pools ---------------- */

static struct dms_found found[8];
static struct dms_device mdev[8];
static const struct dms_device *members[8];

static void put(size_t slot, const struct dms_label *l, uint32_t k)
{
	dms_label_for_member(l, k, &found[slot].label);
	found[slot].devnode = mdev[k].node;
	found[slot].torn = 0;
	mdev[k].devnum = makedev(259, k);
	snprintf(mdev[k].node, sizeof(mdev[k].node), "/dev/fake%u", k);
	members[k] = &mdev[k];
}

/* ---------------- pure plan ---------------- */

static struct dms_assembly asm_;
static struct dms_rc_input in;
static struct dms_rc_plan plan;

static void input_for(const struct dms_assembly *a)
{
	memset(&in, 0, sizeof(in));
	in.a = a;
	for (uint32_t i = 0; i < a->label.member_count; i++)
		in.member_devnum[i] = makedev(259, i);
	in.params.do_mount = true;
	in.has_fs = 1;
	snprintf(in.mountpoint, sizeof(in.mountpoint), "/var/lib/docker");
}

/* Put the live table of role as the plan would want it (the kernel's state
 * after a successful earlier run), with a trailing space like the kernel. */
static void live_from_plan(enum dms_rc_role role, unsigned minor_nr)
{
	struct dms_rc_dev *d = &in.dev[role];
	size_t n = 0;
	for (size_t i = 0; i < plan.n; i++)
		if ((plan.act[i].kind == DMS_RC_CREATE || plan.act[i].kind == DMS_RC_RELOAD) && plan.act[i].role == role)
			n = plan.act[i].count;
	assert_true(n > 0);
	d->exists = true;
	d->devnum = makedev(253, minor_nr);
	dms_rc_dm_uuid(in.a->label.pool_uuid, role, d->uuid, sizeof(d->uuid));
	d->count = n;
	d->size_sectors = 0;
	for (size_t i = 0; i < n; i++) {
		const struct dms_dm_target *w = &plan.want[role][i];
		d->tg[i].start_sectors = w->start_sectors;
		d->tg[i].length_sectors = w->length_sectors;
		snprintf(d->tg[i].type, sizeof(d->tg[i].type), "%s", w->type);
		snprintf(d->tg[i].params, sizeof(d->tg[i].params), "%s ", w->params);
		d->size_sectors = w->start_sectors + w->length_sectors;
	}
}

static size_t count_kind(enum dms_rc_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < plan.n; i++)
		n += plan.act[i].kind == k;
	return n;
}

static const struct dms_rc_action *find_kind(enum dms_rc_kind k, enum dms_rc_role role)
{
	for (size_t i = 0; i < plan.n; i++)
		if (plan.act[i].kind == k && (k == DMS_RC_WRITE_LABEL || k == DMS_RC_UNPEND || k == DMS_RC_MKFS ||
					      k == DMS_RC_MOUNT || k == DMS_RC_GROW_FS || plan.act[i].role == role))
			return &plan.act[i];
	return NULL;
}

/* Linear: from nothing to a mounted pool, one state at a time. */
static void test_linear_states(void **state)
{
	(void)state;
	static struct dms_label l;
	make_pool(&l, DMS_TARGET_LINEAR, 2);
	put(0, &l, 0);
	put(1, &l, 1);
	assert_int_equal(dms_plan_assembly(found, 2, "scratch", NULL, &asm_), 0);
	input_for(&asm_);
	/* nothing active: create, then look again (the device number) */
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(plan.n, 1);
	assert_int_equal(plan.act[0].kind, DMS_RC_CREATE);
	assert_int_equal(plan.act[0].role, DMS_RC_VOL);
	assert_false(plan.act[0].private_dev);
	assert_int_equal(plan.act[0].count, 2);
	assert_true(plan.more);
	/* active, the same table (the kernel's trailing space too): mount, grow, unpend */
	live_from_plan(DMS_RC_VOL, 0);
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_false(plan.more);
	assert_int_equal(count_kind(DMS_RC_CREATE) + count_kind(DMS_RC_RELOAD) + count_kind(DMS_RC_MKFS), 0);
	assert_non_null(find_kind(DMS_RC_MOUNT, 0));
	assert_string_equal(find_kind(DMS_RC_MOUNT, 0)->mountpoint, "/var/lib/docker");
	assert_non_null(find_kind(DMS_RC_GROW_FS, 0));
	assert_int_equal(count_kind(DMS_RC_UNPEND), 2);
	/* mounted: grow (idempotent) and unpend only */
	in.mounted = true;
	snprintf(in.mounted_at, sizeof(in.mounted_at), "/srv/x");
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(count_kind(DMS_RC_MOUNT), 0);
	assert_string_equal(find_kind(DMS_RC_GROW_FS, 0)->mountpoint, "/srv/x");
	/* attach: not mounting, not mounted */
	in.mounted = false;
	in.params.do_mount = false;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(count_kind(DMS_RC_MOUNT) + count_kind(DMS_RC_GROW_FS), 0);
}

/* Refusals: another device of the name, a shrink, a busy mountpoint (a pool
 * of another instance hot-plugged while ours is mounted there), no fs on a
 * grown pool. */
static void test_linear_refusals(void **state)
{
	(void)state;
	static struct dms_label l;
	make_pool(&l, DMS_TARGET_LINEAR, 2);
	put(0, &l, 0);
	put(1, &l, 1);
	assert_int_equal(dms_plan_assembly(found, 2, "scratch", NULL, &asm_), 0);
	input_for(&asm_);
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	live_from_plan(DMS_RC_VOL, 0);
	static struct dms_rc_dev good;
	good = in.dev[DMS_RC_VOL];
	in.dev[DMS_RC_VOL].uuid[10] ^= 1;
	assert_int_equal(dms_reconcile_plan(&in, &plan), -EEXIST);
	in.dev[DMS_RC_VOL] = good;
	in.dev[DMS_RC_VOL].size_sectors += 1;
	assert_int_equal(dms_reconcile_plan(&in, &plan), -EUCLEAN);
	in.dev[DMS_RC_VOL] = good;
	in.mountpoint_busy = true;
	assert_int_equal(dms_reconcile_plan(&in, &plan), -EBUSY);
	assert_int_equal(count_kind(DMS_RC_MOUNT), 0);
	in.mounted = true;                           /* ours is the one mounted there: fine */
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	in.mounted = false;
	in.mountpoint_busy = false;
	in.has_fs = 0;                               /* generation 2 without a filesystem */
	assert_int_equal(dms_reconcile_plan(&in, &plan), -EUCLEAN);
}

/* A new pool: generation 1 without a filesystem gets one. */
static void test_linear_mkfs(void **state)
{
	(void)state;
	static struct dms_label l;
	make_pool(&l, DMS_TARGET_LINEAR, 1);
	put(0, &l, 0);
	assert_int_equal(dms_plan_assembly(found, 1, "scratch", NULL, &asm_), 0);
	input_for(&asm_);
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	live_from_plan(DMS_RC_VOL, 0);
	in.has_fs = 0;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(plan.act[0].kind, DMS_RC_MKFS);
	assert_int_equal(plan.act[0].size_bytes, dms_label_data_bytes(&l));
	assert_int_equal(plan.act[1].kind, DMS_RC_MOUNT);
	assert_int_equal(plan.act[2].kind, DMS_RC_GROW_FS);
	/* an mkfs that was cut off left a signature: formatted again */
	in.has_fs = 1;
	in.mkfs_pending = true;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(plan.act[0].kind, DMS_RC_MKFS);
	assert_int_equal(plan.act[1].kind, DMS_RC_MOUNT);
	in.mkfs_pending = false;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(plan.act[0].kind, DMS_RC_MOUNT);
}

/* docs/FORMAT.md §6, an append of member 2 at G=2 -> 3 interrupted: */
static void test_format_crash_states(void **state)
{
	(void)state;
	static struct dms_label g, g1;
	make_pool(&g, DMS_TARGET_LINEAR, 2);
	make_pool(&g1, DMS_TARGET_LINEAR, 3);
	/* the kernel runs generation G */
	put(0, &g, 0);
	put(1, &g, 1);
	assert_int_equal(dms_plan_assembly(found, 2, "scratch", NULL, &asm_), 0);
	input_for(&asm_);
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	live_from_plan(DMS_RC_VOL, 0);
	static struct dms_rc_dev live_g;
	live_g = in.dev[DMS_RC_VOL];

	/* only the new device has G+1, present: old members relabelled, table reloaded */
	put(0, &g, 0);
	put(1, &g, 1);
	put(2, &g1, 2);
	assert_int_equal(dms_plan_assembly(found, 3, "scratch", NULL, &asm_), 0);
	input_for(&asm_);
	in.dev[DMS_RC_VOL] = live_g;
	in.mounted = true;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(plan.act[0].kind, DMS_RC_WRITE_LABEL);
	assert_int_equal(plan.act[0].member, 0);
	assert_int_equal(plan.act[1].kind, DMS_RC_WRITE_LABEL);
	assert_int_equal(plan.act[1].member, 1);
	assert_int_equal(plan.act[2].kind, DMS_RC_RELOAD);
	assert_int_equal(plan.act[2].count, 3);
	assert_non_null(find_kind(DMS_RC_GROW_FS, 0));
	/* ... and once the labels are written this run, not again */
	in.labels_done = true;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(count_kind(DMS_RC_WRITE_LABEL), 0);

	/* only the new device has G+1, absent: G, complete, nothing to write */
	put(0, &g, 0);
	put(1, &g, 1);
	assert_int_equal(dms_plan_assembly(found, 2, "scratch", NULL, &asm_), 0);
	input_for(&asm_);
	in.dev[DMS_RC_VOL] = live_g;
	in.mounted = true;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(count_kind(DMS_RC_WRITE_LABEL) + count_kind(DMS_RC_RELOAD) + count_kind(DMS_RC_CREATE), 0);

	/* some old members at G+1, new present: the rest relabelled */
	put(0, &g1, 0);
	put(1, &g, 1);
	put(2, &g1, 2);
	assert_int_equal(dms_plan_assembly(found, 3, "scratch", NULL, &asm_), 0);
	input_for(&asm_);
	in.dev[DMS_RC_VOL] = live_g;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(count_kind(DMS_RC_WRITE_LABEL), 1);
	assert_int_equal(plan.act[0].member, 1);
	assert_int_equal(plan.act[1].kind, DMS_RC_RELOAD);

	/* some old members at G+1, new absent: no plan at all (-ENODEV) */
	assert_int_equal(dms_plan_assembly(found, 2, "scratch", NULL, &asm_), -ENODEV);

	/* a torn copy on a current member: rewritten, nothing else changes */
	put(0, &g, 0);
	put(1, &g, 1);
	found[1].torn = 2;
	assert_int_equal(dms_plan_assembly(found, 2, "scratch", NULL, &asm_), 0);
	input_for(&asm_);
	in.dev[DMS_RC_VOL] = live_g;
	in.mounted = true;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(count_kind(DMS_RC_WRITE_LABEL), 1);
	assert_int_equal(plan.act[0].member, 1);
	assert_int_equal(count_kind(DMS_RC_RELOAD), 0);
}

/* Every state of the thin stack. */
static void test_thin_states(void **state)
{
	(void)state;
	static struct dms_label l;
	make_pool(&l, DMS_TARGET_THIN, 1);
	put(0, &l, 0);
	assert_int_equal(dms_plan_assembly(found, 1, "scratch", NULL, &asm_), 0);
	input_for(&asm_);
	in.params.low_water_set = true;
	in.params.low_water_bytes = GIB;
	in.params.low_water_percent = 0;
	/* nothing: data and metadata devices, private */
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_true(plan.more);
	assert_int_equal(plan.n, 2);
	assert_int_equal(plan.act[0].kind, DMS_RC_CREATE);
	assert_int_equal(plan.act[0].role, DMS_RC_TDATA);
	assert_true(plan.act[0].private_dev);
	assert_int_equal(plan.act[1].role, DMS_RC_TMETA);
	assert_true(plan.act[1].private_dev);
	assert_int_equal(plan.want[DMS_RC_TMETA][0].length_sectors, l.thin_meta_active_bytes / 512);
	live_from_plan(DMS_RC_TDATA, 1);
	live_from_plan(DMS_RC_TMETA, 2);
	/* the pool over both, with the configured low water mark (1 GiB = 2048 blocks) */
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_true(plan.more);
	assert_int_equal(plan.n, 1);
	assert_int_equal(plan.act[0].kind, DMS_RC_CREATE);
	assert_int_equal(plan.act[0].role, DMS_RC_TPOOL);
	assert_true(plan.act[0].private_dev);
	assert_string_equal(plan.want[DMS_RC_TPOOL][0].params, "253:2 253:1 1024 2048 1 skip_block_zeroing");
	live_from_plan(DMS_RC_TPOOL, 3);
	/* status unknown: look first */
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_true(plan.more);
	assert_int_equal(plan.n, 0);
	/* a new pool: create device 0 (a leftover one is deleted first), then the id */
	in.pool_status_known = true;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_true(plan.more);
	assert_int_equal(plan.n, 2);
	assert_string_equal(plan.act[0].msg, "create_thin 0");
	assert_string_equal(plan.act[0].retry_after, "delete 0");
	assert_string_equal(plan.act[1].msg, "set_transaction_id 0 1");
	assert_string_equal(plan.act[1].retry_after, "");
	/* the volume */
	in.ps.transaction_id = 1;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_true(plan.more);
	assert_int_equal(plan.act[0].kind, DMS_RC_CREATE);
	assert_int_equal(plan.act[0].role, DMS_RC_VOL);
	assert_false(plan.act[0].private_dev);
	assert_string_equal(plan.want[DMS_RC_VOL][0].params, "253:3 0");
	live_from_plan(DMS_RC_VOL, 4);
	/* mkfs over the virtual size, mount with discard, no growth */
	in.has_fs = 0;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_false(plan.more);
	assert_int_equal(plan.act[0].kind, DMS_RC_MKFS);
	assert_int_equal(plan.act[0].size_bytes, l.thin_virtual_bytes);
	assert_int_equal(plan.act[1].kind, DMS_RC_MOUNT);
	assert_int_equal(count_kind(DMS_RC_GROW_FS), 0);
	/* steady state: nothing but the pending list */
	in.has_fs = 1;
	in.mounted = true;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(plan.n, count_kind(DMS_RC_UNPEND));
	/* a pool the kernel distrusts, or metadata changed by something else */
	in.ps.needs_check = true;
	assert_int_equal(dms_reconcile_plan(&in, &plan), -EUCLEAN);
	in.ps.needs_check = false;
	in.ps.mode = DMS_THIN_RO;
	assert_int_equal(dms_reconcile_plan(&in, &plan), -EUCLEAN);
	in.ps.mode = DMS_THIN_FAIL;
	assert_int_equal(dms_reconcile_plan(&in, &plan), -EUCLEAN);
	in.ps.mode = DMS_THIN_RW;
	in.ps.transaction_id = 5;
	assert_int_equal(dms_reconcile_plan(&in, &plan), -EUCLEAN);
	in.ps.transaction_id = 1;
	/* out of data space is not distrust: the daemon is adding a member */
	in.ps.mode = DMS_THIN_OUT_OF_DATA;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
}

/* Growth: an attach (data), the daemon's metadata growth (meta), low water. */
static void test_thin_growth(void **state)
{
	(void)state;
	static struct dms_label l, l2;
	make_pool(&l, DMS_TARGET_THIN, 1);
	put(0, &l, 0);
	assert_int_equal(dms_plan_assembly(found, 1, "scratch", NULL, &asm_), 0);
	input_for(&asm_);
	/* bring up with the live mark 777 in the table */
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	live_from_plan(DMS_RC_TDATA, 1);
	live_from_plan(DMS_RC_TMETA, 2);
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	live_from_plan(DMS_RC_TPOOL, 3);
	snprintf(in.dev[DMS_RC_TPOOL].tg[0].params, sizeof(in.dev[0].tg[0].params),
		 "253:2 253:1 1024 777 1 skip_block_zeroing ");
	in.pool_status_known = true;
	in.ps.transaction_id = 1;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	live_from_plan(DMS_RC_VOL, 4);
	in.mounted = true;
	/* unchanged labels, no mark given: the live table (trailing space) is equal */
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	assert_int_equal(count_kind(DMS_RC_RELOAD) + count_kind(DMS_RC_CREATE), 0);

	/* metadata growth (a new generation), no mark given: keep 777 */
	l2 = l;
	l2.thin_meta_active_bytes *= 2;
	l2.generation++;
	put(0, &l2, 0);
	static struct dms_assembly a2;
	assert_int_equal(dms_plan_assembly(found, 1, "scratch", NULL, &a2), 0);
	in.a = &a2;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	const struct dms_rc_action *r = find_kind(DMS_RC_RELOAD, DMS_RC_TMETA);
	assert_non_null(r);
	assert_true(r->private_dev);
	/* tmeta's devnum does not change on reload: the pool's table is the same */
	assert_null(find_kind(DMS_RC_RELOAD, DMS_RC_TPOOL));
	/* a configured mark wins */
	in.params.low_water_set = true;
	in.params.low_water_bytes = GIB;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	r = find_kind(DMS_RC_RELOAD, DMS_RC_TPOOL);
	assert_non_null(r);
	assert_true(r->private_dev);
	assert_string_equal(plan.want[DMS_RC_TPOOL][0].params, "253:2 253:1 1024 2048 1 skip_block_zeroing");
	assert_true(plan.more);

	/* an attach: data grows (private reload), then the pool */
	make_pool(&l2, DMS_TARGET_THIN, 2);
	put(0, &l2, 0);
	put(1, &l2, 1);
	assert_int_equal(dms_plan_assembly(found, 2, "scratch", NULL, &a2), 0);
	in.a = &a2;
	in.member_devnum[1] = makedev(259, 1);
	in.params.low_water_set = false;
	assert_int_equal(dms_reconcile_plan(&in, &plan), 0);
	r = find_kind(DMS_RC_RELOAD, DMS_RC_TDATA);
	assert_non_null(r);
	assert_true(r->private_dev);
	assert_int_equal(r->count, 2);
	r = find_kind(DMS_RC_RELOAD, DMS_RC_TPOOL);
	assert_non_null(r);
	assert_true(r->private_dev);
	/* the data size changed: the default mark, not the old one */
	assert_null(strstr(plan.want[DMS_RC_TPOOL][0].params, " 777 "));
}

static void test_table_equal(void **state)
{
	(void)state;
	static struct dms_rc_dev d;
	struct dms_dm_target w = { 0, 100, "thin-pool", "253:2 253:1 1024 77 1 skip_block_zeroing" };
	d.exists = true;
	d.count = 1;
	d.tg[0] = (struct dms_dm_live_target){ 0, 100, "thin-pool", "253:2 253:1 1024 77 1 skip_block_zeroing " };
	assert_true(dms_rc_table_equal(&d, &w, 1));
	snprintf(d.tg[0].params, sizeof(d.tg[0].params), " 253:2  253:1 1024 77 1 skip_block_zeroing");
	assert_true(dms_rc_table_equal(&d, &w, 1));
	snprintf(d.tg[0].params, sizeof(d.tg[0].params), "253:2 253:1 1024 771 1 skip_block_zeroing");
	assert_false(dms_rc_table_equal(&d, &w, 1));
	snprintf(d.tg[0].params, sizeof(d.tg[0].params), "253:2 253:1 1024 77 1");
	assert_false(dms_rc_table_equal(&d, &w, 1));
	snprintf(d.tg[0].params, sizeof(d.tg[0].params), "253:2 253:1 1024 77 1 skip_block_zeroing x");
	assert_false(dms_rc_table_equal(&d, &w, 1));
	snprintf(d.tg[0].params, sizeof(d.tg[0].params), "253:2 253:1 1024 77 1 skip_block_zeroing");
	d.tg[0].length_sectors = 99;
	assert_false(dms_rc_table_equal(&d, &w, 1));
	d.tg[0].length_sectors = 100;
	d.exists = false;
	assert_false(dms_rc_table_equal(&d, &w, 1));
}

/* init: the start of the data area is zeroed before the label is written, so
 * an old filesystem there is never taken for our interrupted mkfs. */
static void test_init_zeroes_data_area(void **state)
{
	(void)state;
	static struct dms_label l;
	struct dms_zero_range z[DMS_INIT_MAX_ZERO];
	size_t nz;
	struct dms_init_spec spec = { .name = "scratch", .fstype = "xfs", .target = DMS_TARGET_LINEAR,
				      .device_bytes = 8 * GIB, .volume_id = "" };
	seed_uuid(spec.pool_uuid, 1);
	seed_uuid(spec.member_uuid, 2);
	assert_int_equal(dms_plan_init(&spec, &l, z, &nz), 0);
	assert_int_equal(nz, 1);
	assert_int_equal(z[0].offset_bytes, l.members[0].data_offset_bytes);
	assert_int_equal(z[0].offset_bytes, MIB);
	assert_int_equal(z[0].length_bytes, MIB);
	spec.target = DMS_TARGET_THIN;
	assert_int_equal(dms_plan_init(&spec, &l, z, &nz), 0);
	assert_int_equal(nz, 2);
	assert_int_equal(z[0].offset_bytes, l.thin_meta_offset_bytes);
	assert_int_equal(z[1].offset_bytes, l.members[0].data_offset_bytes);
	assert_true(z[1].offset_bytes > MIB);
	spec.device_bytes = GIB / 2;
	assert_int_equal(dms_plan_init(&spec, &l, z, &nz), -ERANGE);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_states),
		cmocka_unit_test(test_linear_refusals),
		cmocka_unit_test(test_linear_mkfs),
		cmocka_unit_test(test_format_crash_states),
		cmocka_unit_test(test_thin_states),
		cmocka_unit_test(test_thin_growth),
		cmocka_unit_test(test_table_equal),
		cmocka_unit_test(test_init_zeroes_data_area),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
