/* Planning: dm-linear tables, append, and pool assembly after crashes. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dmscale/label.h"
#include "dmscale/plan.h"
#include "dmscale/pool_api.h"

static void make_uuid(uint8_t u[16], uint32_t seed)
{
	for (int i = 0; i < 16; i++)
		u[i] = (uint8_t)(seed * 13u + (uint32_t)i * 5u + 3u);
	u[0] = (uint8_t)seed;
	u[1] = (uint8_t)(seed >> 8);
	u[2] = 0x5A;
}

static void make_member(struct dms_member *m, uint32_t seed, bytes_t size)
{
	memset(m, 0, sizeof(*m));
	make_uuid(m->uuid, seed);
	snprintf(m->volume_id, sizeof(m->volume_id), "vol-%017x", seed);
	assert_int_equal(dms_member_layout(size, 0, m), 0);
}

/* A pool as the CLI builds it: create with one member (generation 1), then
 * append one member per generation. Member k has seed pool_seed*1000 + k and
 * size (k + 1) GiB. */
static void make_pool(struct dms_label *l, const char *name, uint32_t pool_seed, uint32_t count)
{
	memset(l, 0, sizeof(*l));
	l->version = DMS_LABEL_VERSION;
	l->generation = 1;
	make_uuid(l->pool_uuid, pool_seed);
	snprintf(l->pool_name, sizeof(l->pool_name), "%s", name);
	snprintf(l->fs_type, sizeof(l->fs_type), "xfs");
	l->target = DMS_TARGET_LINEAR;
	l->created_unix = 1700000000;
	l->member_count = 1;
	make_member(&l->members[0], pool_seed * 1000, GIB);
	dms_label_for_member(l, 0, l);
	assert_int_equal(dms_label_validate(l), 0);
	for (uint32_t k = 1; k < count; k++) {
		struct dms_member m;
		make_member(&m, pool_seed * 1000 + k, (k + 1) * GIB);
		assert_int_equal(dms_plan_append(l, &m, l), 0);
	}
	assert_int_equal(l->member_count, count);
	assert_int_equal(l->generation, count);
}

/* found[slot] = member k's label as of `pool` (any generation). */
static void put(struct dms_found *f, const char *dev, const struct dms_label *pool, uint32_t k)
{
	f->devnode = dev;
	f->live = false;
	dms_label_for_member(pool, k, &f->label);
	assert_int_equal(dms_label_validate(&f->label), 0);
}

/* ---------------- dm-linear ---------------- */

static void test_linear_1(void **state)
{
	(void)state;
	struct dms_label l;
	static struct dms_table t;
	make_pool(&l, "p", 1, 1);
	assert_int_equal(dms_plan_linear(&l, &t), 0);
	assert_int_equal(t.count, 1);
	assert_int_equal(t.seg[0].start_sectors, 0);
	assert_int_equal(t.seg[0].length_sectors, (GIB - MIB) / 512); /* 2095104 */
	assert_int_equal(t.seg[0].length_sectors, 2095104);
	assert_int_equal(t.seg[0].offset_sectors, 2048);
	assert_int_equal(t.seg[0].member_index, 0);
	assert_int_equal(t.total_sectors, 2095104);
	assert_int_equal(sectors_to_bytes(t.total_sectors), dms_label_data_bytes(&l));
}

static void test_linear_3(void **state)
{
	(void)state;
	struct dms_label l;
	static struct dms_table t;
	make_pool(&l, "p", 1, 3);
	/* make it irregular: odd-sized data areas at different offsets */
	l.members[1].data_offset_bytes = 5 * MIB;
	l.members[1].data_bytes = 7 * MIB;
	l.members[2].data_offset_bytes = 2 * MIB;
	l.members[2].data_bytes = 3 * GIB - 2 * MIB;
	assert_int_equal(dms_label_validate(&l), 0);
	assert_int_equal(dms_plan_linear(&l, &t), 0);
	assert_int_equal(t.count, 3);
	const sectors_t len0 = 2095104, len1 = 14336, len2 = 6287360;
	assert_int_equal(t.seg[0].start_sectors, 0);
	assert_int_equal(t.seg[0].length_sectors, len0);
	assert_int_equal(t.seg[0].offset_sectors, 2048);
	assert_int_equal(t.seg[1].start_sectors, len0);
	assert_int_equal(t.seg[1].length_sectors, len1);
	assert_int_equal(t.seg[1].offset_sectors, 10240);
	assert_int_equal(t.seg[1].member_index, 1);
	assert_int_equal(t.seg[2].start_sectors, len0 + len1);
	assert_int_equal(t.seg[2].length_sectors, len2);
	assert_int_equal(t.seg[2].offset_sectors, 4096);
	assert_int_equal(t.seg[2].member_index, 2);
	assert_int_equal(t.total_sectors, len0 + len1 + len2);
	assert_int_equal(t.total_sectors, 8396800);
	assert_int_equal(sectors_to_bytes(t.total_sectors), dms_label_data_bytes(&l));
}

static void test_linear_128(void **state)
{
	(void)state;
	static struct dms_label l;
	static struct dms_table t;
	make_pool(&l, "big", 2, 128);
	assert_int_equal(dms_plan_linear(&l, &t), 0);
	assert_int_equal(t.count, 128);
	/* member k: (k+1) GiB device, data (k+1) GiB - 1 MiB at 1 MiB */
	sectors_t start = 0;
	for (uint32_t k = 0; k < 128; k++) {
		const sectors_t len = (k + 1) * 2097152ull - 2048;
		assert_int_equal(t.seg[k].start_sectors, start);
		assert_int_equal(t.seg[k].length_sectors, len);
		assert_int_equal(t.seg[k].offset_sectors, 2048);
		assert_int_equal(t.seg[k].member_index, k);
		start += len;
	}
	/* closed form: sum (k+1) GiB - 128 MiB, in sectors */
	assert_int_equal(t.total_sectors, 8256ull * 2097152 - 128 * 2048);
	assert_int_equal(t.total_sectors, start);
	assert_int_equal(sectors_to_bytes(t.total_sectors), dms_label_data_bytes(&l));
}

static void test_linear_invalid(void **state)
{
	(void)state;
	struct dms_label l;
	static struct dms_table t;
	make_pool(&l, "p", 1, 3);
	l.members[1].data_bytes = 0;
	assert_int_equal(dms_plan_linear(&l, &t), -EINVAL);
	assert_int_equal(t.count, 0);
	make_pool(&l, "p", 1, 3);
	l.members[2].data_bytes = GIB + 100;
	assert_int_equal(dms_plan_linear(&l, &t), -EINVAL);
	make_pool(&l, "p", 1, 3);
	l.members[0].data_offset_bytes = 0;
	assert_int_equal(dms_plan_linear(&l, &t), -EINVAL);
	make_pool(&l, "p", 1, 3);
	l.members[0].data_offset_bytes = MIB + 1;
	assert_int_equal(dms_plan_linear(&l, &t), -EINVAL);
	make_pool(&l, "p", 1, 3);
	l.member_count = 0;
	assert_int_equal(dms_plan_linear(&l, &t), -EINVAL);
	l.member_count = 129;
	assert_int_equal(dms_plan_linear(&l, &t), -EINVAL);
	/* no overflow is possible: 128 x (2^64 / 512) sectors < 2^64 */
	make_pool(&l, "p", 1, 3);
	l.members[0].data_bytes = UINT64_MAX - 511;
	l.members[1].data_bytes = UINT64_MAX - 511;
	assert_int_equal(dms_plan_linear(&l, &t), 0);
	assert_int_equal(t.total_sectors, 2 * ((UINT64_MAX - 511) / 512) + (3 * GIB - MIB) / 512);
	assert_int_equal(dms_plan_linear(NULL, &t), -EINVAL);
}

static void test_segment_params(void **state)
{
	(void)state;
	struct dms_segment s = { .start_sectors = 0, .length_sectors = 100, .member_index = 0, .offset_sectors = 2048 };
	char out[64];
	assert_int_equal(dms_segment_params(&s, 259, 3, out, sizeof(out)), 0);
	assert_string_equal(out, "259:3 2048");
	s.offset_sectors = 0x123456789ull;
	assert_int_equal(dms_segment_params(&s, 202, 4096, out, sizeof(out)), 0);
	assert_string_equal(out, "202:4096 4886718345");
	s.offset_sectors = 2048;
	assert_int_equal(dms_segment_params(&s, 259, 3, out, 11), 0); /* exactly fits */
	assert_string_equal(out, "259:3 2048");
	assert_int_equal(dms_segment_params(&s, 259, 3, out, 10), -ENOSPC);
	assert_int_equal(dms_segment_params(&s, 259, 3, out, 0), -EINVAL);
	assert_int_equal(dms_segment_params(NULL, 259, 3, out, sizeof(out)), -EINVAL);
}

/* ---------------- append / for_member ---------------- */

static void test_append(void **state)
{
	(void)state;
	static struct dms_label cur, next;
	struct dms_member m;
	make_pool(&cur, "p", 1, 3);
	cur.generation = 10;
	make_member(&m, 4242, 5 * GIB);
	assert_int_equal(dms_plan_append(&cur, &m, &next), 0);
	assert_int_equal(next.generation, 11);
	assert_int_equal(next.member_count, 4);
	assert_int_equal(next.member_index, 3);
	assert_memory_equal(next.member_uuid, m.uuid, 16);
	assert_memory_equal(&next.members[3], &m, sizeof(m));
	for (uint32_t i = 0; i < 3; i++)
		assert_memory_equal(&next.members[i], &cur.members[i], sizeof(m));
	assert_memory_equal(next.pool_uuid, cur.pool_uuid, 16);
	assert_string_equal(next.pool_name, cur.pool_name);
	assert_int_equal(cur.member_count, 3); /* cur untouched */
	assert_int_equal(cur.generation, 10);
	assert_int_equal(dms_label_validate(&next), 0);
	assert_int_equal(dms_label_data_bytes(&next), dms_label_data_bytes(&cur) + 5 * GIB - MIB);

	/* duplicate uuid or volume id, or a bad layout */
	struct dms_member dup = cur.members[1];
	assert_int_equal(dms_plan_append(&cur, &dup, &next), -EINVAL);
	make_member(&dup, 4243, GIB);
	memcpy(dup.volume_id, cur.members[0].volume_id, sizeof(dup.volume_id));
	assert_int_equal(dms_plan_append(&cur, &dup, &next), -EINVAL);
	make_member(&dup, 4243, GIB);
	dup.data_offset_bytes = 0;
	assert_int_equal(dms_plan_append(&cur, &dup, &next), -EINVAL);
	make_member(&dup, 4243, GIB);
	memset(dup.uuid, 0, 16);
	assert_int_equal(dms_plan_append(&cur, &dup, &next), -EINVAL);

	/* up to 128, then -E2BIG */
	make_pool(&cur, "p", 1, 127);
	make_member(&m, 9999, GIB);
	assert_int_equal(dms_plan_append(&cur, &m, &next), 0);
	assert_int_equal(next.member_count, 128);
	assert_int_equal(next.member_index, 127);
	make_member(&m, 9998, GIB);
	assert_int_equal(dms_plan_append(&next, &m, &cur), -E2BIG);
	cur.generation = UINT64_MAX;
	cur.member_count = 3;
	assert_int_equal(dms_plan_append(&cur, &m, &next), -EOVERFLOW);
}

static void test_label_for_member(void **state)
{
	(void)state;
	static struct dms_label l, out;
	make_pool(&l, "p", 1, 4);
	for (uint32_t i = 0; i < 4; i++) {
		dms_label_for_member(&l, i, &out);
		assert_int_equal(out.member_index, i);
		assert_memory_equal(out.member_uuid, l.members[i].uuid, 16);
		assert_int_equal(out.generation, l.generation);
		assert_int_equal(dms_label_validate(&out), 0);
	}
}

/* ---------------- assembly ---------------- */

static struct dms_found f[16];
static struct dms_assembly a;

static void assert_complete(size_t n, uint64_t gen, uint32_t count)
{
	assert_int_equal(a.generation, gen);
	assert_int_equal(a.newest_generation, gen);
	assert_int_equal(a.label.generation, gen);
	assert_int_equal(a.label.member_count, count);
	assert_int_equal(a.missing_count, 0);
	for (uint32_t i = 0; i < count; i++) {
		assert_true(a.member_found[i] < n);
		/* the device mapped to member i carries member i's uuid */
		assert_memory_equal(f[a.member_found[i]].label.member_uuid, a.label.members[i].uuid, 16);
	}
}

static void test_assembly_complete(void **state)
{
	(void)state;
	static struct dms_label p;
	make_pool(&p, "scratch", 1, 3);
	for (uint32_t k = 0; k < 3; k++)
		put(&f[k], "dev", &p, k);
	assert_int_equal(dms_plan_assembly(f, 3, "scratch", NULL, &a), 0);
	assert_complete(3, 3, 3);
	assert_memory_equal(a.pool_uuid, p.pool_uuid, 16);
	assert_string_equal(a.pool_name, "scratch");
	for (uint32_t k = 0; k < 3; k++) {
		assert_int_equal(a.member_found[k], k);
		assert_int_equal(a.stale[k], 0);
	}
	assert_int_equal(a.member_found[3], SIZE_MAX);
	/* the same by uuid */
	assert_int_equal(dms_plan_assembly(f, 3, NULL, p.pool_uuid, &a), 0);
	assert_complete(3, 3, 3);
	/* the uuid wins over a wrong name */
	assert_int_equal(dms_plan_assembly(f, 3, "other", p.pool_uuid, &a), 0);
}

static void test_assembly_shuffled(void **state)
{
	(void)state;
	static struct dms_label p;
	make_pool(&p, "scratch", 1, 5);
	const uint32_t order[5] = { 3, 0, 4, 2, 1 }; /* f[slot] holds member order[slot] */
	for (uint32_t s = 0; s < 5; s++)
		put(&f[s], "dev", &p, order[s]);
	assert_int_equal(dms_plan_assembly(f, 5, "scratch", NULL, &a), 0);
	assert_complete(5, 5, 5);
	assert_int_equal(a.member_found[0], 1);
	assert_int_equal(a.member_found[1], 4);
	assert_int_equal(a.member_found[2], 3);
	assert_int_equal(a.member_found[3], 0);
	assert_int_equal(a.member_found[4], 2);
	/* the table is in member order regardless of discovery order */
	static struct dms_table t;
	assert_int_equal(dms_plan_linear(&a.label, &t), 0);
	assert_int_equal(t.seg[1].length_sectors, (2 * GIB - MIB) / 512);
}

static void test_assembly_two_pools(void **state)
{
	(void)state;
	static struct dms_label p, q;
	make_pool(&p, "alpha", 1, 2);
	make_pool(&q, "beta", 2, 3);
	put(&f[0], "a0", &p, 0);
	put(&f[1], "b2", &q, 2);
	put(&f[2], "a1", &p, 1);
	put(&f[3], "b0", &q, 0);
	put(&f[4], "b1", &q, 1);
	assert_int_equal(dms_plan_assembly(f, 5, "beta", NULL, &a), 0);
	assert_complete(5, 3, 3);
	assert_int_equal(a.member_found[0], 3);
	assert_int_equal(a.member_found[1], 4);
	assert_int_equal(a.member_found[2], 1);
	assert_memory_equal(a.pool_uuid, q.pool_uuid, 16);
	assert_int_equal(dms_plan_assembly(f, 5, "alpha", NULL, &a), 0);
	assert_complete(5, 2, 2);
	assert_int_equal(a.member_found[0], 0);
	assert_int_equal(a.member_found[1], 2);
	assert_int_equal(dms_plan_assembly(f, 5, NULL, p.pool_uuid, &a), 0);
	assert_string_equal(a.pool_name, "alpha");
	assert_int_equal(dms_plan_assembly(f, 5, "gamma", NULL, &a), -ENOENT);
	uint8_t u[16];
	make_uuid(u, 77);
	assert_int_equal(dms_plan_assembly(f, 5, NULL, u, &a), -ENOENT);
	/* prefix of a name is not the name */
	assert_int_equal(dms_plan_assembly(f, 5, "alph", NULL, &a), -ENOENT);
}

static void test_assembly_same_name(void **state)
{
	(void)state;
	static struct dms_label p, q;
	/* e.g. a snapshot-restored copy of another instance's pool */
	make_pool(&p, "scratch", 1, 2);
	make_pool(&q, "scratch", 2, 2);
	put(&f[0], "p0", &p, 0);
	put(&f[1], "p1", &p, 1);
	put(&f[2], "q0", &q, 0);
	put(&f[3], "q1", &q, 1);
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), -ENOTUNIQ);
	/* resolved by uuid */
	assert_int_equal(dms_plan_assembly(f, 4, NULL, q.pool_uuid, &a), 0);
	assert_complete(4, 2, 2);
	assert_int_equal(a.member_found[0], 2);
	assert_int_equal(a.member_found[1], 3);
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", p.pool_uuid, &a), 0);
	assert_int_equal(a.member_found[0], 0);
	/* only one of them present: no ambiguity */
	assert_int_equal(dms_plan_assembly(f + 2, 2, "scratch", NULL, &a), 0);
	assert_memory_equal(a.pool_uuid, q.pool_uuid, 16);
}

/* Attach of member 3 to a 3-member pool at generation G=3: step 1 writes the
 * G+1 label on the new device, then the old members are relabelled. */
static struct dms_label g_old, g_new;

static void attach_setup(void)
{
	struct dms_member m;
	make_pool(&g_old, "scratch", 1, 3);
	make_member(&m, 1003, 4 * GIB);
	assert_int_equal(dms_plan_append(&g_old, &m, &g_new), 0);
	assert_int_equal(g_new.generation, 4);
}

static void test_assembly_crash_after_new_label(void **state)
{
	(void)state;
	attach_setup();
	/* old members at G, new member at G+1, discovered in any order */
	put(&f[0], "old1", &g_old, 1);
	put(&f[1], "new", &g_new, 3);
	put(&f[2], "old0", &g_old, 0);
	put(&f[3], "old2", &g_old, 2);
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), 0);
	assert_complete(4, 4, 4);
	assert_int_equal(a.member_found[0], 2);
	assert_int_equal(a.member_found[1], 0);
	assert_int_equal(a.member_found[2], 3);
	assert_int_equal(a.member_found[3], 1);
	assert_int_equal(a.stale[0], 1);
	assert_int_equal(a.stale[1], 1);
	assert_int_equal(a.stale[2], 1);
	assert_int_equal(a.stale[3], 0);
	/* the chosen list is the new one: it includes the new member */
	assert_memory_equal(a.label.members[3].uuid, g_new.members[3].uuid, 16);
}

static void test_assembly_new_member_absent_old_gen(void **state)
{
	(void)state;
	attach_setup();
	/* the new device never got (or lost) its label and is not attached:
	 * no found label carries G+1, so generation G is complete */
	put(&f[0], "old2", &g_old, 2);
	put(&f[1], "old0", &g_old, 0);
	put(&f[2], "old1", &g_old, 1);
	assert_int_equal(dms_plan_assembly(f, 3, "scratch", NULL, &a), 0);
	assert_complete(3, 3, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(a.stale[i], 0);
}

static void test_assembly_crash_mid_relabel(void **state)
{
	(void)state;
	attach_setup();
	put(&f[0], "new", &g_new, 3);
	put(&f[1], "old0", &g_new, 0); /* already relabelled */
	put(&f[2], "old1", &g_new, 1); /* already relabelled */
	put(&f[3], "old2", &g_old, 2); /* crash before this one */
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), 0);
	assert_complete(4, 4, 4);
	assert_int_equal(a.stale[0], 0);
	assert_int_equal(a.stale[1], 0);
	assert_int_equal(a.stale[2], 1);
	assert_int_equal(a.stale[3], 0);
	assert_int_equal(a.member_found[3], 0);
	assert_int_equal(a.member_found[2], 3);
}

static void test_assembly_new_member_absent_newer_gen(void **state)
{
	(void)state;
	attach_setup();
	/* some old members already say G+1 but the new device is gone: refusing
	 * is the only safe answer (the fs may already span it) */
	put(&f[0], "old0", &g_new, 0);
	put(&f[1], "old1", &g_old, 1);
	put(&f[2], "old2", &g_old, 2);
	assert_int_equal(dms_plan_assembly(f, 3, "scratch", NULL, &a), -ENODEV);
	assert_int_equal(a.missing_count, 1);
	assert_string_equal(a.missing[0], g_new.members[3].volume_id);
	assert_string_equal(a.missing[0], "vol-000000000000003eb");
	assert_int_equal(a.newest_generation, 4);
	assert_int_equal(a.member_found[3], SIZE_MAX);
}

static void test_assembly_missing_old_member(void **state)
{
	(void)state;
	static struct dms_label p;
	make_pool(&p, "scratch", 1, 4);
	put(&f[0], "m0", &p, 0);
	put(&f[1], "m3", &p, 3);
	put(&f[2], "m2", &p, 2);
	assert_int_equal(dms_plan_assembly(f, 3, "scratch", NULL, &a), -ENODEV);
	assert_int_equal(a.missing_count, 1);
	assert_string_equal(a.missing[0], p.members[1].volume_id);
	assert_int_equal(a.member_found[1], SIZE_MAX);
	assert_int_equal(a.member_found[2], 2);

	/* several missing, one without a volume id: named by uuid */
	p.members[2].volume_id[0] = '\0';
	put(&f[0], "m0", &p, 0);
	assert_int_equal(dms_plan_assembly(f, 1, "scratch", NULL, &a), -ENODEV);
	assert_int_equal(a.missing_count, 3);
	char s[37], want[80];
	dms_uuid_format(p.members[2].uuid, s);
	snprintf(want, sizeof(want), "member %s", s);
	assert_string_equal(a.missing[0], p.members[1].volume_id);
	assert_string_equal(a.missing[1], want);
	assert_string_equal(a.missing[2], p.members[3].volume_id);
}

static void test_assembly_duplicate_member(void **state)
{
	(void)state;
	static struct dms_label p;
	make_pool(&p, "scratch", 1, 3);
	put(&f[0], "m0", &p, 0);
	put(&f[1], "m1", &p, 1);
	put(&f[2], "m2", &p, 2);
	put(&f[3], "clone-of-m1", &p, 1);
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), -ENOTUNIQ);
	assert_int_equal(dms_plan_assembly(f, 4, NULL, p.pool_uuid, &a), -ENOTUNIQ);
	/* even a stale clone (older generation) */
	static struct dms_label older;
	make_pool(&older, "scratch", 1, 2);
	put(&f[3], "old-clone-of-m0", &older, 0);
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), -ENOTUNIQ);
}

/* A clone of a member of the live pool (same member uuid on a second device)
 * is attached while the pool runs: the device in the live dm table is the
 * member, the copy is ignored and reported, and the pool keeps its members
 * (status, the daemon's membership). Without a live table (boot) the two
 * cannot be told apart: refused, naming both. */
static void test_assembly_clone_of_live_member(void **state)
{
	(void)state;
	static struct dms_label p;
	static struct dms_pool_query q;
	make_pool(&p, "scratch", 1, 3);
	/* the clone is found first, so the mapping must skip it */
	put(&f[0], "clone-of-m1", &p, 1);
	put(&f[1], "m0", &p, 0);
	put(&f[2], "m1", &p, 1);
	put(&f[3], "m2", &p, 2);

	/* boot-time assembly: no live table */
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), -ENOTUNIQ);
	assert_int_equal(a.dup_found[0], 0);
	assert_int_equal(a.dup_found[1], 2);
	memset(&q, 0, sizeof(q));
	q.r = dms_plan_assembly(f, 4, "scratch", NULL, &q.a);
	assert_int_equal(dms_pool_membership(&q, p.members[1].volume_id), DMS_MEMBER_UNKNOWN);

	/* the live table holds m0, m1, m2 */
	f[1].live = f[2].live = f[3].live = true;
	for (int by_uuid = 0; by_uuid < 2; by_uuid++) {
		assert_int_equal(dms_plan_assembly(f, 4, by_uuid ? NULL : "scratch", by_uuid ? p.pool_uuid : NULL,
						   &a), 0);
		assert_int_equal(a.generation, 3);
		assert_int_equal(a.label.member_count, 3);
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(a.member_found[i], i + 1);
			assert_false(a.stale[i] || a.repair[i]);
		}
		assert_int_equal(a.clones, 1);
		assert_int_equal(a.clone_found[0], 0);
		assert_int_equal(a.clone_of[0], 2);
	}
	/* the daemon's keep/delete: the live members are members, never "no" */
	memset(&q, 0, sizeof(q));
	q.r = dms_plan_assembly(f, 4, "scratch", NULL, &q.a);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(dms_pool_membership(&q, p.members[i].volume_id), DMS_MEMBER_YES);

	/* a stale clone (taken at an older generation) is a copy too */
	static struct dms_label older;
	make_pool(&older, "scratch", 1, 2);
	put(&f[0], "old-clone-of-m1", &older, 1);
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), 0);
	assert_int_equal(a.generation, 3);
	assert_int_equal(a.clones, 1);

	/* a "copy" newer than the live device is no copy of it: refused */
	static struct dms_label newer;
	struct dms_member m;
	make_member(&m, 7777, 4 * GIB);
	assert_int_equal(dms_plan_append(&p, &m, &newer), 0);
	put(&f[0], "newer-m1", &newer, 1);
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), -ENOTUNIQ);

	/* both devices in the live table: cannot tell */
	put(&f[0], "clone-of-m1", &p, 1);
	f[0].live = true;
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), -ENOTUNIQ);
	f[0].live = false;

	/* the live pool is incomplete: still its devices, never the clone */
	f[3].devnode = "elsewhere";
	assert_int_equal(dms_plan_assembly(f, 3, "scratch", NULL, &a), -ENODEV);
	assert_int_equal(a.member_found[1], 2);
	assert_int_equal(a.missing_count, 1);
	assert_string_equal(a.missing[0], p.members[2].volume_id);
}

static void test_assembly_no_members(void **state)
{
	(void)state;
	static struct dms_label p;
	assert_int_equal(dms_plan_assembly(NULL, 0, "scratch", NULL, &a), -ENOENT);
	assert_int_equal(dms_plan_assembly(f, 0, "scratch", NULL, &a), -ENOENT);
	make_pool(&p, "other", 1, 1);
	put(&f[0], "x", &p, 0);
	assert_int_equal(dms_plan_assembly(f, 1, "scratch", NULL, &a), -ENOENT);
	/* bad arguments */
	assert_int_equal(dms_plan_assembly(f, 1, NULL, NULL, &a), -EINVAL);
	assert_int_equal(dms_plan_assembly(f, 1, "other", NULL, NULL), -EINVAL);
	assert_int_equal(dms_plan_assembly(NULL, 1, "other", NULL, &a), -EINVAL);
}

static void test_assembly_conflicting_generation(void **state)
{
	(void)state;
	static struct dms_label x, y;
	struct dms_member m;
	/* two attaches that both started from G=3 and both wrote G+1 on their
	 * new devices with different member lists: cannot be resolved */
	attach_setup();
	x = g_new;
	make_member(&m, 1999, 2 * GIB);
	assert_int_equal(dms_plan_append(&g_old, &m, &y), 0);
	put(&f[0], "old0", &g_old, 0);
	put(&f[1], "old1", &g_old, 1);
	put(&f[2], "old2", &g_old, 2);
	put(&f[3], "x", &x, 3);
	put(&f[4], "y", &y, 3);
	assert_int_equal(dms_plan_assembly(f, 5, "scratch", NULL, &a), -EUCLEAN);
	/* only one of the two present: fine */
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), 0);
	assert_complete(4, 4, 4);

	/* an older label whose list is not a prefix of the chosen one */
	put(&f[3], "new", &g_new, 3);
	f[0].label.members[2].data_bytes -= MIB; /* member 0's stale view of member 2 */
	assert_int_equal(dms_label_validate(&f[0].label), 0);
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), -EUCLEAN);
	/* or a member claiming another index than in the chosen list */
	put(&f[0], "old0", &g_old, 0);
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), 0);
	struct dms_member tmp = f[1].label.members[0];
	f[1].label.members[0] = f[1].label.members[1];
	f[1].label.members[1] = tmp;
	f[1].label.member_index = 0;
	assert_int_equal(dms_label_validate(&f[1].label), 0);
	assert_int_equal(dms_plan_assembly(f, 4, "scratch", NULL, &a), -EUCLEAN);
}

static void test_assembly_leftover_and_invalid(void **state)
{
	(void)state;
	static struct dms_label p, left;
	struct dms_member m;
	/* an attach of X crashed after step 1 (X at G+1=3) and X was detached;
	 * a later attach of Y completed (everyone at 3 with Y), then Z (4).
	 * X reappears with its older, contradicting label: it is not a member
	 * of generation 4 and is ignored. */
	make_pool(&p, "scratch", 1, 2);
	make_member(&m, 5555, GIB);
	assert_int_equal(dms_plan_append(&p, &m, &left), 0);
	make_pool(&p, "scratch", 1, 4);
	put(&f[0], "m0", &p, 0);
	put(&f[1], "m1", &p, 1);
	put(&f[2], "x", &left, 2);
	put(&f[3], "m2", &p, 2);
	put(&f[4], "m3", &p, 3);
	assert_int_equal(dms_plan_assembly(f, 5, "scratch", NULL, &a), 0);
	assert_int_equal(a.generation, 4);
	assert_int_equal(a.member_found[2], 3);
	assert_int_equal(a.member_found[3], 4);

	/* structurally invalid labels are ignored (never produced by decode) */
	f[2].label.member_count = 0;
	f[2].label.generation = 99;
	assert_int_equal(dms_plan_assembly(f, 5, "scratch", NULL, &a), 0);
	assert_int_equal(a.generation, 4);
	f[0].label.generation = 0;
	assert_int_equal(dms_plan_assembly(f, 5, "scratch", NULL, &a), -ENODEV);
	assert_string_equal(a.missing[0], p.members[0].volume_id);
}


/* issue 12: a thin metadata growth is a new generation; two labels of one
 * generation with different metadata lengths are not the same pool state. */
static void test_assembly_meta_active_disagrees(void **state)
{
	(void)state;
	static struct dms_label p;
	make_pool(&p, "scratch", 1, 2);
	p.target = DMS_TARGET_THIN;
	p.thin_meta_offset_bytes = MIB;
	p.thin_meta_bytes = 0;       /* member 0's data starts at 1 MiB: no room, so move it */
	p.members[0].data_offset_bytes = 65 * MIB;
	p.members[0].data_bytes = GIB - 65 * MIB;
	p.thin_meta_bytes = 64 * MIB;
	p.thin_meta_active_bytes = 16 * MIB;
	p.thin_virtual_bytes = TIB;
	put(&f[0], "m0", &p, 0);
	put(&f[1], "m1", &p, 1);
	assert_int_equal(dms_plan_assembly(f, 2, "scratch", NULL, &a), 0);
	f[1].label.thin_meta_active_bytes = 32 * MIB;
	assert_int_equal(dms_label_validate(&f[1].label), 0);
	assert_int_equal(dms_plan_assembly(f, 2, "scratch", NULL, &a), -EUCLEAN);
}

/* issue 12 / FORMAT.md §6.3: an attach of X crashed after X's own label
 * (G+1 only on X), X was absent at the next assembly, an attach of Y then
 * wrote G+1 on Y and on old members. When X returns, the G+1 that existing
 * members confirm wins; X is ignored, whatever the discovery order. */
static void test_assembly_generation_reused(void **state)
{
	(void)state;
	static struct dms_label x, y;
	struct dms_member m;
	attach_setup();
	x = g_new;                                   /* G+1 = 4 with X at index 3 */
	make_member(&m, 1999, 2 * GIB);
	assert_int_equal(dms_plan_append(&g_old, &m, &y), 0);
	for (int order = 0; order < 2; order++) {
		put(&f[0], "x", &x, 3);
		put(&f[1], "y", &y, 3);
		put(&f[2], "old0", &y, 0);           /* Y's attach relabelled member 0 ... */
		put(&f[3], "old1", &g_old, 1);       /* ... and crashed before member 1 */
		put(&f[4], "old2", &g_old, 2);
		if (order) {                         /* X discovered last */
			struct dms_found t = f[0];
			f[0] = f[4];
			f[4] = t;
		}
		assert_int_equal(dms_plan_assembly(f, 5, "scratch", NULL, &a), 0);
		assert_int_equal(a.generation, 4);
		assert_memory_equal(a.label.members[3].uuid, m.uuid, 16);
		assert_int_equal(a.member_found[3], 1);
		assert_int_equal(a.stale[0], 0);
		assert_int_equal(a.stale[1], 1);
		assert_int_equal(a.stale[2], 1);
		assert_int_equal(a.stale[3], 0);
	}
	/* two confirmed states at one generation cannot be settled */
	put(&f[0], "x", &x, 3);
	put(&f[1], "y", &y, 3);
	put(&f[2], "old0", &y, 0);
	put(&f[3], "old1", &x, 1);
	put(&f[4], "old2", &g_old, 2);
	assert_int_equal(dms_plan_assembly(f, 5, "scratch", NULL, &a), -EUCLEAN);
}

/* issue 12: a member with one torn copy is marked for repair, and after the
 * repair a later tear of the other copy does not lose the member. */
static void test_assembly_torn_copy_repaired(void **state)
{
	(void)state;
	static struct dms_label p, got;
	static uint8_t ca[2][DMS_LABEL_COPY_BYTES], cb[2][DMS_LABEL_COPY_BYTES];
	unsigned ok;
	make_pool(&p, "scratch", 1, 2);
	for (uint32_t k = 0; k < 2; k++) {
		struct dms_label ml;
		dms_label_for_member(&p, k, &ml);
		assert_int_equal(dms_label_encode(&ml, 0, ca[k], sizeof(ca[k])), 0);
		assert_int_equal(dms_label_encode(&ml, 1, cb[k], sizeof(cb[k])), 0);
	}
	cb[1][100] ^= 0xff;                          /* tear copy B of member 1 */
	for (uint32_t k = 0; k < 2; k++) {
		f[k].devnode = k ? "m1" : "m0";
		assert_int_equal(dms_label_pick(ca[k], sizeof(ca[k]), cb[k], sizeof(cb[k]), &f[k].label, &ok), 0);
		f[k].torn = 3u & ~ok;
	}
	assert_int_equal(f[1].torn, 2);
	assert_int_equal(dms_plan_assembly(f, 2, "scratch", NULL, &a), 0);
	assert_int_equal(a.repair[0], 0);
	assert_int_equal(a.repair[1], 1);
	assert_int_equal(a.stale[1], 0);
	/* the activator rewrites what the plan marks (both copies, §5.3) */
	for (uint32_t i = 0; i < 2; i++) {
		if (!a.stale[i] && !a.repair[i])
			continue;
		struct dms_label ml;
		dms_label_for_member(&a.label, i, &ml);
		assert_int_equal(dms_label_encode(&ml, 0, ca[i], sizeof(ca[i])), 0);
		assert_int_equal(dms_label_encode(&ml, 1, cb[i], sizeof(cb[i])), 0);
	}
	ca[1][200] ^= 0xff;                          /* later, copy A tears */
	assert_int_equal(dms_label_pick(ca[1], sizeof(ca[1]), cb[1], sizeof(cb[1]), &got, &ok), 0);
	assert_int_equal(ok, 2);
	f[1].label = got;
	f[1].torn = 1;
	assert_int_equal(dms_plan_assembly(f, 2, "scratch", NULL, &a), 0);
	assert_int_equal(a.repair[1], 1);
	memset(f, 0, sizeof(f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_1),
		cmocka_unit_test(test_linear_3),
		cmocka_unit_test(test_linear_128),
		cmocka_unit_test(test_linear_invalid),
		cmocka_unit_test(test_segment_params),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_label_for_member),
		cmocka_unit_test(test_assembly_complete),
		cmocka_unit_test(test_assembly_shuffled),
		cmocka_unit_test(test_assembly_two_pools),
		cmocka_unit_test(test_assembly_same_name),
		cmocka_unit_test(test_assembly_crash_after_new_label),
		cmocka_unit_test(test_assembly_new_member_absent_old_gen),
		cmocka_unit_test(test_assembly_crash_mid_relabel),
		cmocka_unit_test(test_assembly_new_member_absent_newer_gen),
		cmocka_unit_test(test_assembly_missing_old_member),
		cmocka_unit_test(test_assembly_duplicate_member),
		cmocka_unit_test(test_assembly_clone_of_live_member),
		cmocka_unit_test(test_assembly_no_members),
		cmocka_unit_test(test_assembly_conflicting_generation),
		cmocka_unit_test(test_assembly_leftover_and_invalid),
		cmocka_unit_test(test_assembly_meta_active_disagrees),
		cmocka_unit_test(test_assembly_generation_reused),
		cmocka_unit_test(test_assembly_torn_copy_repaired),
	};
	return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
