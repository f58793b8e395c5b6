/* Writes the binary seed corpora of the fuzz harnesses (make fuzz-seeds):
 * labels encoded by the real codec (corpus/label/, corpus/plan/) and NVMe
 * Identify Controller pages as EBS returns them (corpus/ebsname/). Each label
 * is laid out the way `dmscale init` and `dmscale attach` lay it out.
 * Deterministic: fixed uuids and times, so regenerating changes nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dmscale/ebsname.h"
#include "dmscale/label.h"
#include "dmscale/pool_tier.h"
#include "dmscale/stripe.h"
#include "dmscale/plan.h"
#include "dmscale/thin.h"

static const char *root;

static void write_file(const char *dir, const char *name, const void *a, size_t alen, const void *b,
		       size_t blen)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen) || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void uuid(uint8_t u[16], unsigned pool, unsigned member)
{
	for (unsigned i = 0; i < 16; i++)
		u[i] = (uint8_t)(0x11 * (i + 1) ^ pool * 0x35 ^ member * 0x5b);
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	u[15] = (uint8_t)member;
	u[14] = (uint8_t)pool;
}

/* A new pool of one member, as `dmscale init` makes it. */
static void new_pool(struct dms_label *l, unsigned pool, const char *name, const char *fs,
		     enum dms_target target, bytes_t dev_bytes)
{
	memset(l, 0, sizeof(*l));
	l->version = DMS_LABEL_VERSION;
	l->generation = 1;
	uuid(l->pool_uuid, pool, 0xff);
	snprintf(l->pool_name, sizeof(l->pool_name), "%s", name);
	snprintf(l->fs_type, sizeof(l->fs_type), "%s", fs);
	l->target = target;
	l->created_unix = 1764000000;
	l->member_count = 1;
	bytes_t reserve = 0;
	if (target == DMS_TARGET_THIN && dms_thin_meta_reserve(dev_bytes, DMS_THIN_DEFAULT_VIRTUAL, &reserve))
		abort();
	uuid(l->members[0].uuid, pool, 0);
	snprintf(l->members[0].volume_id, DMS_VOLUME_ID_MAX, "vol-%017x", 0xa000 + pool * 0x100);
	if (dms_member_layout(dev_bytes, reserve, &l->members[0]))
		abort();
	memcpy(l->member_uuid, l->members[0].uuid, 16);
	if (target == DMS_TARGET_THIN) {
		l->thin_meta_offset_bytes = DMS_DATA_OFFSET_BYTES;
		l->thin_meta_bytes = reserve;
		l->thin_meta_active_bytes = dms_thin_meta_active_for(l->members[0].data_bytes, reserve, 0);
		l->thin_virtual_bytes = DMS_THIN_DEFAULT_VIRTUAL;
	}
	if (dms_label_validate(l))
		abort();
}

/* `dmscale attach`: append a member of dev_bytes. */
static void append(struct dms_label *l, unsigned pool, bytes_t dev_bytes, int ebs)
{
	struct dms_member m = {0};
	uuid(m.uuid, pool, l->member_count);
	if (ebs)
		snprintf(m.volume_id, sizeof(m.volume_id), "vol-%017x", 0xa000 + pool * 0x100 + l->member_count);
	if (dms_member_layout(dev_bytes, 0, &m) || dms_plan_append(l, &m, l))
		abort();
	if (l->target == DMS_TARGET_THIN)
		l->thin_meta_active_bytes =
			dms_thin_meta_active_for(dms_label_data_bytes(l), l->thin_meta_bytes, l->thin_meta_active_bytes);
}

static size_t enc_len(const struct dms_label *l) { return 512 + 128 * (size_t)l->member_count; }

/* Encoded copy of member i's label. */
static size_t encode(const struct dms_label *l, uint32_t i, unsigned copy, uint8_t *buf)
{
	static struct dms_label m;
	dms_label_for_member(l, i, &m);
	if (dms_label_encode(&m, copy, buf, DMS_LABEL_COPY_BYTES))
		abort();
	return enc_len(l);
}

static uint8_t A[DMS_LABEL_COPY_BYTES], B[DMS_LABEL_COPY_BYTES];

/* corpus/label: flags byte (bit 0 fix crc, bit 1 two copies) + copy bytes. */
static void label_seed(const char *name, uint8_t flags, const uint8_t *a, size_t alen, const uint8_t *b,
		       size_t blen)
{
	uint8_t *buf = malloc(1 + alen + blen);
	buf[0] = flags;
	memcpy(buf + 1, a, alen);
	if (blen)
		memcpy(buf + 1 + alen, b, blen);
	write_file("label", name, buf, 1 + alen + blen, NULL, 0);
	free(buf);
}

/* corpus/plan: flags byte + label blobs back to back. */
static uint8_t planbuf[1 + 16 * DMS_LABEL_COPY_BYTES];
static size_t planlen;
static void plan_begin(uint8_t flags)
{
	planbuf[0] = flags;
	planlen = 1;
}
static void plan_add(const struct dms_label *l, uint32_t i, unsigned copy)
{
	size_t n = encode(l, i, copy, A);
	memcpy(planbuf + planlen, A, n);
	planlen += n;
}
static void plan_end(const char *name) { write_file("plan", name, planbuf, planlen, NULL, 0); }

static void identify(const char *name, uint16_t vid, const char *serial, const char *model, const char *vs)
{
	uint8_t id[NVME_IDENTIFY_BYTES];
	memset(id, 0, sizeof(id));
	id[0] = (uint8_t)(vid & 0xff);
	id[1] = (uint8_t)(vid >> 8);
	id[2] = id[0];
	id[3] = id[1];
	memset(id + 4, ' ', 20);
	memcpy(id + 4, serial, strlen(serial));
	memset(id + 24, ' ', 40);
	memcpy(id + 24, model, strlen(model));
	memcpy(id + 64, "1.0     ", 8); /* firmware revision */
	if (vs) {
		memset(id + EBS_VS_DEVNAME_OFFSET, ' ', EBS_VS_DEVNAME_BYTES);
		memcpy(id + EBS_VS_DEVNAME_OFFSET, vs, strlen(vs));
	}
	write_file("ebsname", name, id, sizeof(id), NULL, 0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	root = argv[1];
	static struct dms_label lin1, lin3, lin4, thin2, big, other, same_name;
	size_t n, m;

	new_pool(&lin1, 1, "scratch", "ext4", DMS_TARGET_LINEAR, 150 * GIB);
	lin3 = lin1;
	append(&lin3, 1, 50 * GIB, 1);
	append(&lin3, 1, 75 * GIB, 1);
	lin4 = lin3;
	append(&lin4, 1, 100 * GIB, 1);
	new_pool(&thin2, 2, "docker", "xfs", DMS_TARGET_THIN, 2 * GIB);
	append(&thin2, 2, 500 * GIB, 1);
	new_pool(&big, 3, "big.pool-1", "btrfs", DMS_TARGET_LINEAR, 16384 * GIB);
	while (big.member_count < DMS_MAX_MEMBERS)
		append(&big, 3, (1 + big.member_count) * GIB, big.member_count % 2);
	new_pool(&other, 4, "other", "ext4", DMS_TARGET_LINEAR, 8 * GIB);
	new_pool(&same_name, 5, "scratch", "xfs", DMS_TARGET_LINEAR, 20 * GIB);

	/* ---- label: single copies ---- */
	n = encode(&lin1, 0, 0, A);
	label_seed("linear-1-copyA", 1, A, n, NULL, 0);
	label_seed("linear-1-copyA-nofix", 0, A, n, NULL, 0);
	n = encode(&lin1, 0, 1, A);
	label_seed("linear-1-copyB", 1, A, n, NULL, 0);
	n = encode(&lin3, 1, 0, A);
	label_seed("linear-3-member1", 1, A, n, NULL, 0);
	n = encode(&thin2, 0, 0, A);
	label_seed("thin-2-member0", 1, A, n, NULL, 0);
	n = encode(&thin2, 1, 1, A);
	label_seed("thin-2-member1-copyB", 1, A, n, NULL, 0);
	n = encode(&big, 127, 0, A);
	label_seed("linear-128-member127", 1, A, n, NULL, 0);
	label_seed("linear-128-member127-padded", 1, A, DMS_LABEL_COPY_BYTES, NULL, 0);
	n = encode(&lin1, 0, 0, A);
	label_seed("linear-1-truncated", 0, A, n - 1, NULL, 0);
	memset(A, 0, sizeof(A));
	label_seed("blank", 0, A, 4096, NULL, 0);

	/* ---- label: both copies (pick) ---- */
	n = encode(&lin3, 2, 0, A);
	m = encode(&lin3, 2, 1, B);
	label_seed("pick-same-generation", 3, A, n, B, m);
	n = encode(&lin4, 2, 0, A);          /* A rewritten at generation 4, B still at 3 */
	memset(A + n, 0, 128);
	m = encode(&lin3, 2, 1, B);
	label_seed("pick-a-newer", 3, A, n, B, m + 128 > n ? n : m + 128);
	n = encode(&lin3, 0, 0, A);
	A[200] ^= 0x40;                       /* torn copy A: B decides */
	m = encode(&lin3, 0, 1, B);
	label_seed("pick-a-torn", 2, A, n, B, m);
	n = encode(&lin1, 0, 0, A);
	m = encode(&other, 0, 1, B);          /* two pools on one device */
	label_seed("pick-disagree", 3, A, n, B, m);

	/* ---- label v2: instance store (kinds, stripe), a recreate ---- */
	static struct dms_label tier, tier1, recreated;
	{
		struct dms_tier_spec ts = { .name = "scratch", .fstype = "ext4", .now_unix = 1764000000, .nis = 2,
					    .is_bytes = { 900 * GIB, 900 * GIB + 123 * MIB },
					    .ebs_bytes = 150 * GIB, .ebs_volume_id = "vol-0000000000000a600",
					    .chunk_bytes = DMS_STRIPE_CHUNK_BYTES };
		uuid(ts.pool_uuid, 6, 0xff);
		uuid(ts.is_uuid[0], 6, 0);
		uuid(ts.is_uuid[1], 6, 1);
		uuid(ts.ebs_uuid, 6, 2);
		if (dms_plan_init_tiered(&ts, &tier))
			abort();
		tier1 = tier;
		append(&tier1, 6, 200 * GIB, 1);
		ts.nis = 1;
		ts.ebs_volume_id = "vol-0000000000000a700";
		uuid(ts.pool_uuid, 7, 0xff);
		static struct dms_label one;
		if (dms_plan_init_tiered(&ts, &one))
			abort();
		n = encode(&one, 0, 0, A);
		label_seed("v2-one-instance-store-member0", 1, A, n, NULL, 0);
		recreated = tier;           /* the next incarnation: new uuid, same lineage, epoch 1 */
		memcpy(recreated.lineage_uuid, tier.pool_uuid, 16);
		uuid(recreated.pool_uuid, 8, 0xff);
		recreated.recreate_epoch = 1;
	}
	n = encode(&tier, 0, 0, A);
	label_seed("v2-stripe-member0", 1, A, n, NULL, 0);
	n = encode(&tier1, 3, 1, A);
	label_seed("v2-stripe-ebs-appended-copyB", 1, A, n, NULL, 0);
	n = encode(&recreated, 2, 0, A);
	m = encode(&tier, 2, 1, B);           /* recreate cut between copy A and copy B */
	label_seed("v2-pick-recreate-epoch", 3, A, n, B, m);

	/* ---- plan: sets of devices ---- */
	plan_begin(1);
	for (uint32_t i = 0; i < 3; i++)
		plan_add(&lin3, i, i & 1);
	plan_end("linear-3-complete");

	plan_begin(1);                        /* attach interrupted: only the new member has gen 4 */
	for (uint32_t i = 0; i < 3; i++)
		plan_add(&lin3, i, 0);
	plan_add(&lin4, 3, 0);
	plan_end("linear-4-interrupted-attach");

	plan_begin(1);                        /* member 1 missing */
	plan_add(&lin3, 0, 0);
	plan_add(&lin3, 2, 0);
	plan_end("linear-3-missing-member");

	plan_begin(1);                        /* a cloned volume */
	plan_add(&lin3, 0, 0);
	plan_add(&lin3, 1, 0);
	plan_add(&lin3, 1, 1);
	plan_add(&lin3, 2, 0);
	plan_end("linear-3-clone");

	plan_begin(1 | 4);                    /* two pools, the foreign one asked for */
	plan_add(&lin3, 0, 0);
	plan_add(&other, 0, 0);
	plan_add(&lin3, 1, 0);
	plan_add(&lin3, 2, 0);
	plan_end("two-pools");

	plan_begin(1);                        /* two pools named "scratch" */
	plan_add(&lin1, 0, 0);
	plan_add(&same_name, 0, 0);
	plan_end("same-name");

	plan_begin(1 | 2);                    /* by uuid */
	plan_add(&thin2, 1, 0);
	plan_add(&thin2, 0, 1);
	plan_end("thin-2-by-uuid");

	plan_begin(1 | 0x40);                 /* a device whose label does not decode */
	plan_add(&lin1, 0, 0);
	memset(A, 0x5a, 700);
	memcpy(planbuf + planlen, A, 700);
	planlen += 700;
	plan_end("linear-1-and-garbage");

	plan_begin(1);                        /* instance store + EBS, complete */
	for (uint32_t i = 0; i < 4; i++)
		plan_add(&tier1, i, i & 1);
	plan_end("v2-stripe-complete");

	plan_begin(1);                        /* after a stop/start: instance store blank */
	plan_add(&tier1, 2, 0);
	plan_add(&tier1, 3, 0);
	plan_end("v2-instance-store-lost");

	plan_begin(1);                        /* a recreate cut off: two incarnations */
	plan_add(&recreated, 0, 0);
	plan_add(&recreated, 2, 0);
	plan_add(&tier, 2, 1);
	plan_end("v2-recreate-interrupted");

	/* ---- ebsname: Identify Controller pages ---- */
	identify("ebs-xvdba", EBS_NVME_VID, "vol0123456789abcdef0", EBS_NVME_MODEL, "/dev/xvdba");
	identify("ebs-sdf", EBS_NVME_VID, "vol0123456789abcdef0", EBS_NVME_MODEL, "sdf");
	identify("ebs-old-id", EBS_NVME_VID, "vol01234567", EBS_NVME_MODEL, "xvdbz");
	identify("ebs-no-name", EBS_NVME_VID, "vol0123456789abcdef0", EBS_NVME_MODEL, NULL);
	identify("instance-store", EBS_NVME_VID, "AWS1234567890ABCDEF0", "Amazon EC2 NVMe Instance Storage",
		 "ephemeral0");
	identify("qemu", 0x1B36, "deadbeef", "QEMU NVMe Ctrl", NULL);
	write_file("ebsname", "names-xvdba-sdba", "/dev/xvdba\0sdba", 15, NULL, 0);
	write_file("ebsname", "names-sdf-xvdf", "sdf\0/dev/xvdf", 13, NULL, 0);
	return 0;
}
