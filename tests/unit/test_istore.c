/* Instance storage: disk classification, the blank-disk rule, the tiered init
 * label, the scratch recreate plan and its crash safety (a fake device set
 * that tears the write a power cut interrupts), status and metrics. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dmscale/istore.h"
#include "dmscale/label.h"
#include "dmscale/metrics.h"
#include "dmscale/reconcile.h"
#include "ec2/config.h"
#include "dmscale/plan.h"
#include "dmscale/pool_tier.h"
#include "dmscale/recreate.h"
#include "dmscale/status.h"
#include "dmscale/stripe.h"

/* ---------------- classification ---------------- */

static void test_classify(void **state)
{
	(void)state;
	struct dms_disk_ident id = { "Amazon EC2 NVMe Instance Storage", "0x1d0f", "AWS2A7C2D1F0E5E3C11B" };
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_INSTANCE_STORE);
	/* udev's ID_MODEL form, NVMe padding, vendor without 0x */
	id.model = "Amazon_EC2_NVMe_Instance_Storage";
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_INSTANCE_STORE);
	id.model = "Amazon EC2 NVMe Instance Storage        ";
	id.vendor_id = "1d0f\n";
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_INSTANCE_STORE);
	/* another vendor claiming the model: not instance store */
	id.vendor_id = "0x1b36";
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_OTHER);
	id.vendor_id = NULL;
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_OTHER);
	/* an EBS volume, whatever the model says */
	id = (struct dms_disk_ident){ "Amazon EC2 NVMe Instance Storage", "0x1d0f", "vol0123456789abcdef0" };
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_EBS);
	id = (struct dms_disk_ident){ "Amazon Elastic Block Store", "0x1d0f", "vol0123456789abcdef0" };
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_EBS);
	id = (struct dms_disk_ident){ "Amazon Elastic Block Store", "0x1d0f", NULL };
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_EBS);
	/* a QEMU disk, a prefix of the model, nothing known */
	id = (struct dms_disk_ident){ "QEMU NVMe Ctrl", "0x1b36", "rootvol0000000000000000" };
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_OTHER);
	id = (struct dms_disk_ident){ "Amazon EC2 NVMe Instance", "0x1d0f", "AWS1" };
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_OTHER);
	id = (struct dms_disk_ident){ NULL, NULL, NULL };
	assert_int_equal(dms_disk_classify(&id), DMS_DISK_OTHER);
	assert_int_equal(dms_disk_classify(NULL), DMS_DISK_OTHER);
}

static void test_refusal(void **state)
{
	(void)state;
	struct dms_istore_disk d = { .node = "/dev/nvme1n1", .size_bytes = 100 * GIB };
	assert_null(dms_istore_refusal(&d));
	d.root = 1;
	assert_non_null(dms_istore_refusal(&d));
	d.root = 0;
	d.mounted = 1;
	assert_non_null(dms_istore_refusal(&d));
	d.mounted = 0;
	d.holders = 1;
	assert_non_null(dms_istore_refusal(&d));
	d.holders = 0;
	d.signature = 1;
	assert_non_null(strstr(dms_istore_refusal(&d), "signature"));
	d.signature = 0;
	d.label = 1;
	assert_non_null(strstr(dms_istore_refusal(&d), "label"));
	d.label = -EBADMSG;
	assert_non_null(strstr(dms_istore_refusal(&d), "damaged"));
	/* a disk that did not answer, or failed the read, is refused, but its
	 * label is not known to be damaged */
	d.label = -ETIMEDOUT;
	assert_non_null(strstr(dms_istore_refusal(&d), "does not answer"));
	d.label = -EIO;
	assert_non_null(strstr(dms_istore_refusal(&d), "cannot be read"));
	d.label = 0;
	d.size_bytes = GIB - 1;
	assert_non_null(dms_istore_refusal(&d));
}

/* ---------------- init over instance storage ---------------- */

static void tier_spec(struct dms_tier_spec *s, uint32_t nis)
{
	memset(s, 0, sizeof(*s));
	s->name = "scratch";
	s->fstype = "ext4";
	s->now_unix = 1700000000;
	s->nis = nis;
	s->pool_uuid[0] = 0x11;
	for (uint32_t i = 0; i < nis; i++) {
		s->is_bytes[i] = (50 + i) * GIB;
		s->is_uuid[i][0] = (uint8_t)(0x20 + i);
	}
	s->ebs_bytes = 8 * GIB;
	s->ebs_volume_id = "vol-0123456789abcdef0";
	s->ebs_uuid[0] = 0x30;
	s->chunk_bytes = DMS_STRIPE_CHUNK_BYTES;
}

static void test_init_tiered(void **state)
{
	(void)state;
	struct dms_tier_spec s;
	static struct dms_label l;
	struct dms_table t;
	tier_spec(&s, 2);
	assert_int_equal(dms_plan_init_tiered(&s, &l), 0);
	assert_int_equal(l.version, 2);
	assert_int_equal(l.generation, 1);
	assert_int_equal(l.member_count, 3);
	assert_int_equal(l.stripe_count, 2);
	assert_int_equal(l.stripe_chunk_bytes, 256 * KIB);
	assert_int_equal(l.members[0].kind, DMS_KIND_INSTANCE_STORE);
	assert_int_equal(l.members[1].kind, DMS_KIND_INSTANCE_STORE);
	assert_int_equal(l.members[0].data_bytes, 50 * GIB - MIB);   /* the shorter disk */
	assert_int_equal(l.members[1].data_bytes, 50 * GIB - MIB);
	assert_int_equal(l.members[2].kind, DMS_KIND_EBS);
	assert_string_equal(l.members[2].volume_id, "vol-0123456789abcdef0");
	assert_int_equal(dms_plan_linear(&l, &t), 0);
	assert_int_equal(t.count, 2);
	assert_int_equal(t.seg[0].stripes, 2);
	assert_int_equal(t.seg[1].member_index, 2);
	/* one disk: linear, no stripe */
	tier_spec(&s, 1);
	assert_int_equal(dms_plan_init_tiered(&s, &l), 0);
	assert_int_equal(l.member_count, 2);
	assert_int_equal(l.stripe_count, 0);
	assert_int_equal(dms_plan_linear(&l, &t), 0);
	assert_int_equal(t.count, 2);
	assert_int_equal(t.seg[0].stripes, 0);
	/* refusals */
	tier_spec(&s, 2);
	s.is_bytes[1] = GIB / 2;
	assert_int_equal(dms_plan_init_tiered(&s, &l), -ERANGE);
	tier_spec(&s, 0);
	assert_int_equal(dms_plan_init_tiered(&s, &l), -EINVAL);
}

/* ---------------- scratch recreate ---------------- */

/* A fake machine: devices with their two label copies as bytes. */
#define NDEV 6
#define COPY DMS_LABEL_COPY_BYTES
struct fdev {
	char node[32];
	bytes_t size;
	uint8_t a[COPY], b[COPY];
};
static struct fdev dev[NDEV];
static size_t ndev;

struct fake {
	int writes_left;         /* fail (and tear) the write after this many; -1: never */
	int zeros;
	size_t map[DMS_MAX_MEMBERS];   /* plan member -> dev index */
};

static int fake_zero(void *ctx, uint32_t member, bytes_t off, bytes_t len)
{
	struct fake *f = ctx;
	(void)member;
	(void)off;
	(void)len;
	if (f->writes_left == 0)
		return -EIO;
	f->zeros++;
	return 0;
}

static int fake_write(void *ctx, const uint32_t *members, const struct dms_label *labels, size_t n, unsigned copy)
{
	struct fake *f = ctx;
	for (size_t i = 0; i < n; i++) {
		struct fdev *d = &dev[f->map[members[i]]];
		uint8_t *dst = copy ? d->b : d->a;
		if (f->writes_left == 0) {
			/* power cut in this write: the first sector landed, not the rest */
			static uint8_t enc[COPY];
			assert_int_equal(dms_label_encode(&labels[i], copy, enc, sizeof(enc)), 0);
			memcpy(dst, enc, 512);
			memset(dst + 512, 0xEE, 512);
			return -EIO;
		}
		if (f->writes_left > 0)
			f->writes_left--;
		assert_int_equal(dms_label_encode(&labels[i], copy, dst, COPY), 0);
	}
	return 0;
}

/* What a scan of the fake machine sees. */
static struct dms_found found[NDEV];
static size_t nfound;
static struct dms_recreate_blank blank[NDEV];
static size_t nblank;
static size_t found_dev[NDEV], blank_dev[NDEV];

static void scan(void)
{
	nfound = nblank = 0;
	for (size_t k = 0; k < ndev; k++) {
		unsigned ok = 0;
		struct dms_label l;
		int r = dms_label_pick(dev[k].a, COPY, dev[k].b, COPY, &l, &ok);
		if (r == -ENODATA) {
			blank[nblank] = (struct dms_recreate_blank){ dev[k].node, dev[k].size };
			blank_dev[nblank++] = k;
			continue;
		}
		/* never a damaged label, whatever the crash point */
		if (r != 0)
			fail_msg("%s: label unreadable after a crash: %d", dev[k].node, r);
		found[nfound].devnode = dev[k].node;
		found[nfound].label = l;
		found[nfound].torn = (ok & 3) == 3 ? 0 : (~ok & 3);
		found_dev[nfound++] = k;
	}
}

static void put_label(size_t k, const struct dms_label *l, uint32_t i)
{
	struct dms_label ml;
	dms_label_for_member(l, i, &ml);
	assert_int_equal(dms_label_encode(&ml, 0, dev[k].a, COPY), 0);
	assert_int_equal(dms_label_encode(&ml, 1, dev[k].b, COPY), 0);
}

/* The old pool: 2 instance-store disks striped + 2 EBS volumes. After a
 * stop/start: the EBS volumes keep their labels, the instance-store disks
 * come back blank (devices 2, 3); device 4 is another pool's volume. */
static struct dms_label old;
static void machine(void)
{
	struct dms_tier_spec s;
	tier_spec(&s, 2);
	assert_int_equal(dms_plan_init_tiered(&s, &old), 0);
	struct dms_member m = { .kind = DMS_KIND_EBS };
	m.uuid[0] = 0x31;
	snprintf(m.volume_id, sizeof(m.volume_id), "vol-0fedcba9876543210");
	assert_int_equal(dms_member_layout(16 * GIB, 0, &m), 0);
	assert_int_equal(dms_plan_append(&old, &m, &old), 0);
	memset(dev, 0, sizeof(dev));
	ndev = 5;
	for (size_t k = 0; k < ndev; k++)
		snprintf(dev[k].node, sizeof(dev[k].node), "/dev/nvme%zun1", k + 1);
	dev[0].size = 8 * GIB;
	put_label(0, &old, 2);
	dev[1].size = 16 * GIB;
	put_label(1, &old, 3);
	dev[2].size = 50 * GIB;
	dev[3].size = 60 * GIB;
	/* another pool's volume, also named scratch... no: another name */
	struct dms_label other = old;
	snprintf(other.pool_name, sizeof(other.pool_name), "other");
	other.pool_uuid[0] = 0x99;
	dev[4].size = 8 * GIB;
	put_label(4, &other, 2);
}

static struct dms_recreate_spec spec;
static struct dms_recreate_plan rp;

static int plan(uint8_t seed)
{
	scan();
	memset(&spec, 0, sizeof(spec));
	spec.name = "scratch";
	spec.found = found;
	spec.n = nfound;
	spec.blank = blank;
	spec.nblank = nblank;
	spec.new_pool_uuid[0] = seed;
	spec.new_pool_uuid[1] = 0xAB;
	for (int i = 0; i < DMS_MAX_STRIPE; i++) {
		spec.new_member_uuid[i][0] = seed;
		spec.new_member_uuid[i][1] = (uint8_t)(0x50 + i);
	}
	spec.now_unix = 1700000100;
	spec.chunk_bytes = DMS_STRIPE_CHUNK_BYTES;
	return dms_recreate_plan(&spec, &rp);
}

static void map_plan(struct fake *f)
{
	for (uint32_t i = 0; i < rp.label.member_count; i++)
		f->map[i] = rp.src[i].blank ? blank_dev[rp.src[i].index] : found_dev[rp.src[i].index];
}

static void test_recreate_plan(void **state)
{
	(void)state;
	machine();
	assert_int_equal(plan(1), 0);
	assert_int_equal(rp.lost_count, 2);
	assert_int_equal(rp.incarnations, 1);
	assert_int_equal(rp.istore_count, 2);
	assert_memory_equal(rp.old_pool_uuid, old.pool_uuid, 16);
	const struct dms_label *l = &rp.label;
	assert_int_equal(l->member_count, 4);
	assert_int_equal(l->generation, 1);
	assert_int_equal(l->recreate_epoch, 1);
	assert_memory_equal(l->lineage_uuid, old.pool_uuid, 16);
	assert_int_equal(l->stripe_count, 2);
	assert_int_equal(l->members[0].data_bytes, 50 * GIB - MIB);
	/* EBS members keep their uuid and order; nothing of the other pool */
	assert_memory_equal(l->members[2].uuid, old.members[2].uuid, 16);
	assert_memory_equal(l->members[3].uuid, old.members[3].uuid, 16);
	for (uint32_t i = 0; i < l->member_count; i++) {
		struct fake f;
		map_plan(&f);
		assert_true(f.map[i] != 4);
	}

	/* both blank disks are there: not short, unless udev has not probed them all */
	assert_int_equal(rp.old_istore_count, 2);
	assert_false(dms_recreate_short(&rp, 0));
	assert_true(dms_recreate_short(&rp, 1));
	/* one instance-store disk not visible yet: short (assemble waits while
	 * its members' wait lasts), and the plan over the one that is there is valid */
	machine();
	ndev = 3;
	assert_int_equal(plan(1), 0);
	assert_int_equal(rp.old_istore_count, 2);
	assert_int_equal(rp.istore_count, 1);
	assert_int_equal(rp.label.stripe_count, 0);
	assert_true(dms_recreate_short(&rp, 0));
	assert_false(dms_recreate_short(NULL, 1));

	/* complete pool: nothing to do */
	machine();
	put_label(2, &old, 0);
	put_label(3, &old, 1);
	assert_int_equal(plan(1), DMS_RECREATE_NOT_NEEDED);
	/* an EBS member missing: wait for it, never drop it */
	machine();
	memset(dev[1].a, 0, COPY);
	memset(dev[1].b, 0, COPY);
	dev[1].size = 0;   /* not a blank instance-store disk either: take it away */
	ndev = 1;
	assert_int_equal(plan(1), DMS_RECREATE_NOT_NEEDED);
	/* no pool of that name */
	machine();
	spec.name = "nothing";
	scan();
	spec.found = found;
	spec.n = nfound;
	assert_int_equal(dms_recreate_plan(&spec, &rp), DMS_RECREATE_NOT_NEEDED);
	/* one instance-store disk left: no stripe */
	machine();
	ndev = 3;
	assert_int_equal(plan(1), 0);
	assert_int_equal(rp.istore_count, 1);
	assert_int_equal(rp.label.stripe_count, 0);
	assert_int_equal(rp.label.member_count, 3);
}

/* Power cut at every write of the recreate: the devices then read as the old
 * pool, or as a mix that the next assembly plans again, or as the complete new
 * pool; never a damaged label. Finishing always ends in one complete pool of
 * the 4 devices (the other pool untouched). */
static void test_recreate_crash_at_every_write(void **state)
{
	(void)state;
	int total = -1;
	for (int cut = 0;; cut++) {
		machine();
		assert_int_equal(plan(1), 0);
		struct fake f = { .writes_left = cut };
		map_plan(&f);
		const struct dms_recreate_io io = { .ctx = &f, .zero = fake_zero, .write_copy = fake_write };
		enum dms_recreate_step step = DMS_RECREATE_STEPS;
		int r = dms_recreate_run(&rp, &io, &step);
		if (r == 0) {
			total = cut;
			break;
		}
		assert_int_equal(r, -EIO);
		assert_true(step < DMS_RECREATE_STEPS);
		/* reboot: read back, assemble or plan again */
		uint8_t seed = 2;
		for (int round = 0; round < 3; round++) {
			scan();
			static struct dms_assembly a;
			int ra = dms_plan_assembly(found, nfound, "scratch", NULL, &a);
			if (ra == 0)
				break;
			int rr = plan(seed++);
			if (rr != 0)
				fail_msg("cut %d: assembly %d and the recreate plan %d", cut, ra, rr);
			struct fake g = { .writes_left = -1 };
			map_plan(&g);
			const struct dms_recreate_io io2 = { .ctx = &g, .zero = fake_zero, .write_copy = fake_write };
			assert_int_equal(dms_recreate_run(&rp, &io2, NULL), 0);
		}
		scan();
		static struct dms_assembly a;
		assert_int_equal(dms_plan_assembly(found, nfound, "scratch", NULL, &a), 0);
		assert_int_equal(a.label.member_count, 4);
		assert_int_equal(a.label.stripe_count, 2);
		assert_true(a.label.recreate_epoch >= 1);
		/* the other pool's device is untouched */
		assert_int_equal(dms_plan_assembly(found, nfound, "other", NULL, &a), -ENODEV);
		assert_int_equal(found[nfound - 1].label.pool_uuid[0], 0x99);
	}
	/* zero 4 data areas (no write counted), 2 EBS x 2 copies, 2 disks x 2 copies */
	assert_int_equal(total, 8);
	/* and the finished one assembles at once */
	scan();
	static struct dms_assembly a;
	assert_int_equal(dms_plan_assembly(found, nfound, "scratch", NULL, &a), 0);
	assert_int_equal(a.label.recreate_epoch, 1);
	assert_int_equal(plan(9), DMS_RECREATE_NOT_NEEDED);
}

/* A failure of the zeroing step writes no label: the old pool is as it was. */
static void test_recreate_zero_fails(void **state)
{
	(void)state;
	machine();
	assert_int_equal(plan(1), 0);
	struct fake f = { .writes_left = 0 };
	map_plan(&f);
	f.writes_left = 0;
	const struct dms_recreate_io io = { .ctx = &f, .zero = fake_zero, .write_copy = fake_write };
	enum dms_recreate_step step = DMS_RECREATE_STEPS;
	assert_int_equal(dms_recreate_run(&rp, &io, &step), -EIO);
	assert_int_equal(step, DMS_RECREATE_ZERO);
	scan();
	assert_int_equal(nblank, 2);
	assert_memory_equal(found[0].label.pool_uuid, old.pool_uuid, 16);
}

/* Two unrelated pools with one name are not recreated. */
static void test_recreate_other_lineage(void **state)
{
	(void)state;
	machine();
	struct dms_label l2 = old;
	l2.pool_uuid[0] = 0x77;
	snprintf(l2.pool_name, sizeof(l2.pool_name), "scratch");
	put_label(4, &l2, 3);
	assert_int_equal(plan(1), -ENOTUNIQ);
}

/* ---------------- status and metrics ---------------- */

static void test_status_kinds(void **state)
{
	(void)state;
	static struct dms_status st;
	memset(&st, 0, sizeof(st));
	snprintf(st.name, sizeof(st.name), "scratch");
	snprintf(st.target, sizeof(st.target), "linear");
	snprintf(st.state, sizeof(st.state), "active");
	st.privileged = true;
	st.member_count = 3;
	st.stripe_count = 2;
	st.stripe_chunk_bytes = 256 * KIB;
	for (uint32_t i = 0; i < 3; i++) {
		st.members[i].index = i;
		st.members[i].have_layout = true;
		snprintf(st.members[i].device, sizeof(st.members[i].device), "/dev/nvme%un1", i + 1);
		snprintf(st.members[i].kind, sizeof(st.members[i].kind), "%s", i < 2 ? "instance-store" : "ebs");
		st.members[i].striped = i < 2;
	}
	assert_int_equal(dms_status_ebs_members(&st), 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(dms_status_print_json(&st, f), 0);
	assert_int_equal(dms_status_print_prometheus(&st, f), 0);
	assert_int_equal(dms_status_print_table(&st, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "\"kind\": \"instance-store\""));
	assert_non_null(strstr(buf, "\"kind\": \"ebs\""));
	assert_non_null(strstr(buf, "\"chunk_bytes\": 262144"));
	assert_non_null(strstr(buf, "dmscale_member_kind_info{pool=\"scratch\",member=\"0\",volume_id=\"\","
				    "device=\"/dev/nvme1n1\",kind=\"instance-store\",striped=\"1\"} 1"));
	assert_non_null(strstr(buf, "dmscale_pool_stripe_members{pool=\"scratch\"} 2"));
	assert_non_null(strstr(buf, "dmscale_pool_stripe_chunk_bytes{pool=\"scratch\"} 262144"));
	assert_non_null(strstr(buf, "instance-store (striped)"));
	assert_non_null(strstr(buf, "stripe      members 0-1"));
	free(buf);
	/* a member of unknown kind counts as an EBS volume */
	st.members[0].kind[0] = '\0';
	assert_int_equal(dms_status_ebs_members(&st), 2);
}

/* The reconcile of a new tiered pool: the striped table, then mkfs although
 * generation 1 has three members (a fresh init or a recreate). */
static void test_reconcile_tiered(void **state)
{
	(void)state;
	struct dms_tier_spec s;
	static struct dms_label l;
	static struct dms_found fd[3];
	static struct dms_assembly a;
	static struct dms_rc_input in;
	static struct dms_rc_plan p;
	tier_spec(&s, 2);
	assert_int_equal(dms_plan_init_tiered(&s, &l), 0);
	for (uint32_t i = 0; i < 3; i++) {
		fd[i].devnode = "/dev/x";
		dms_label_for_member(&l, i, &fd[i].label);
	}
	assert_int_equal(dms_plan_assembly(fd, 3, "scratch", NULL, &a), 0);
	memset(&in, 0, sizeof(in));
	in.a = &a;
	for (uint32_t i = 0; i < 3; i++)
		in.member_devnum[i] = makedev(259, 10 + i);
	in.params.do_mount = true;
	in.has_fs = -1;
	snprintf(in.mountpoint, sizeof(in.mountpoint), "/var/lib/docker");
	assert_int_equal(dms_reconcile_plan(&in, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.act[0].kind, DMS_RC_CREATE);
	assert_int_equal(p.act[0].count, 2);
	assert_string_equal(p.act[0].tg[0].type, "striped");
	assert_string_equal(p.act[0].tg[0].params, "2 512 259:10 2048 259:11 2048");
	assert_string_equal(p.act[0].tg[1].type, "linear");
	assert_string_equal(p.act[0].tg[1].params, "259:12 2048");
	assert_int_equal(p.act[0].tg[1].start_sectors, 2 * ((50 * GIB - MIB) / 512));
	/* the device exists with that table, no filesystem yet: mkfs, mount */
	struct dms_rc_dev *d = &in.dev[DMS_RC_VOL];
	d->exists = true;
	d->devnum = makedev(253, 0);
	dms_rc_dm_uuid(l.pool_uuid, DMS_RC_VOL, d->uuid, sizeof(d->uuid));
	d->count = 2;
	for (size_t i = 0; i < 2; i++) {
		d->tg[i].start_sectors = p.want[DMS_RC_VOL][i].start_sectors;
		d->tg[i].length_sectors = p.want[DMS_RC_VOL][i].length_sectors;
		snprintf(d->tg[i].type, sizeof(d->tg[i].type), "%s", p.want[DMS_RC_VOL][i].type);
		snprintf(d->tg[i].params, sizeof(d->tg[i].params), "%s", p.want[DMS_RC_VOL][i].params);
	}
	d->size_sectors = d->tg[1].start_sectors + d->tg[1].length_sectors;
	in.has_fs = 0;
	assert_int_equal(dms_reconcile_plan(&in, &p), 0);
	assert_true(p.n >= 2);
	assert_int_equal(p.act[0].kind, DMS_RC_MKFS);
	assert_int_equal(p.act[1].kind, DMS_RC_MOUNT);
	/* a grown pool (generation 2) with no filesystem is still refused */
	a.label.generation = 2;
	assert_int_equal(dms_reconcile_plan(&in, &p), -EUCLEAN);
}

static void test_config_keys(void **state)
{
	(void)state;
	static struct dms_config c;
	char err[256];
	dms_config_defaults(&c);
	assert_string_equal(c.instance_store, "auto");
	assert_true(c.scratch_recreate);
	const char *j = "{\"instance_store\": \"off\", \"scratch_recreate\": false}";
	assert_int_equal(dms_config_parse(j, strlen(j), &c, err, sizeof(err)), 0);
	assert_int_equal(dms_config_validate(&c, err, sizeof(err)), 0);
	assert_string_equal(c.instance_store, "off");
	assert_false(c.scratch_recreate);
	j = "{\"instance_store\": \"on\"}";
	assert_int_equal(dms_config_parse(j, strlen(j), &c, err, sizeof(err)), 0);
	assert_int_equal(dms_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "instance_store"));
	j = "{\"scratch_recreate\": 1}";
	assert_int_equal(dms_config_parse(j, strlen(j), &c, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_refusal),
		cmocka_unit_test(test_init_tiered),
		cmocka_unit_test(test_recreate_plan),
		cmocka_unit_test(test_recreate_crash_at_every_write),
		cmocka_unit_test(test_recreate_zero_fails),
		cmocka_unit_test(test_recreate_other_lineage),
		cmocka_unit_test(test_status_kinds),
		cmocka_unit_test(test_reconcile_tiered),
		cmocka_unit_test(test_config_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
