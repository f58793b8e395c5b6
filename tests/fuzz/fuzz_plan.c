/* Fuzz assembly planning (plan.c) from a set of labels, as read from the
 * devices found at boot or at hot-plug.
 *
 * Input: one flags byte, then label blobs back to back. Each blob is as long
 * as the label_len field at its offset 20 says (clamped to what is left), so a
 * corpus file is simply the concatenation of encoded labels.
 *   flags bit 0:    recompute each blob's CRC-32C before decoding;
 *   flags bit 1:    select the pool by the uuid of the first device (else by name);
 *   flags bits 2-5: which device's pool name to ask for;
 *   flags bit 6:    a blob that does not decode is still a "found" device, its
 *                   label struct filled from the raw bytes (plan.c promises to
 *                   ignore labels that are not structurally valid);
 *   flags bit 7:    the devices at even positions are in the pool's live dm
 *                   table (found[].live): a clone of one is ignored, never
 *                   chosen over it. */
#include "tests/fuzz/fuzz.h"

#include <errno.h>

#include "dmscale/crc32c.h"
#include "dmscale/label.h"
#include "dmscale/plan.h"

#define MAX_FOUND 16
#define F_LABEL_LEN_OFF 20u
#define F_CRC_OFF       24u
#define F_COPY_OFF      28u
#define F_HEADER_BYTES  512u

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fix_crc(uint8_t *buf, size_t len)
{
	if (len < F_HEADER_BYTES)
		return;
	uint32_t label_len = le32(buf + F_LABEL_LEN_OFF);
	if (label_len < F_HEADER_BYTES || label_len > len)
		return;
	memset(buf + F_CRC_OFF, 0, 4);
	uint32_t crc = dms_crc32c(0, buf, label_len);
	for (unsigned i = 0; i < 4; i++)
		buf[F_CRC_OFF + i] = (uint8_t)(crc >> (8 * i));
}

static const char *const NODES[MAX_FOUND] = {
	"/dev/nvme1n1", "/dev/nvme2n1", "/dev/nvme3n1", "/dev/nvme4n1", "/dev/nvme5n1", "/dev/nvme6n1",
	"/dev/nvme7n1", "/dev/nvme8n1", "/dev/nvme9n1", "/dev/nvme10n1", "/dev/nvme11n1", "/dev/nvme12n1",
	"/dev/nvme13n1", "/dev/nvme14n1", "/dev/nvme15n1", "/dev/nvme16n1",
};

static void check_assembly(const struct dms_found *found, size_t n, int by_uuid, const uint8_t *uuid,
			   const char *name, int r, const struct dms_assembly *a)
{
	FUZZ_ASSERT(r == 0 || r == -ENOENT || r == -ENODEV || r == -ENOTUNIQ || r == -EUCLEAN);
	if (r == -ENOTUNIQ && a->dup_found[0] != SIZE_MAX)
		FUZZ_ASSERT(a->dup_found[0] < a->dup_found[1] && a->dup_found[1] < n &&
			    !memcmp(found[a->dup_found[0]].label.member_uuid, found[a->dup_found[1]].label.member_uuid, 16));
	if (r != 0 && r != -ENODEV)
		return;
	/* a device ignored as a clone copies a live one, and is never newer */
	for (size_t c = 0; c < a->clones && c < DMS_MAX_MEMBERS; c++) {
		const struct dms_found *x = &found[a->clone_found[c]], *live = &found[a->clone_of[c]];
		FUZZ_ASSERT(a->clone_found[c] < n && a->clone_of[c] < n && !x->live && live->live);
		FUZZ_ASSERT(!memcmp(x->label.member_uuid, live->label.member_uuid, 16));
		FUZZ_ASSERT(x->label.generation <= live->label.generation);
	}
	const struct dms_label *l = &a->label;
	FUZZ_ASSERT(dms_label_validate(l) == 0);
	FUZZ_ASSERT(a->generation == l->generation && a->newest_generation >= a->generation);
	FUZZ_ASSERT(!memcmp(a->pool_uuid, l->pool_uuid, 16));
	FUZZ_ASSERT(fuzz_terminated(a->pool_name, sizeof(a->pool_name)) && !strcmp(a->pool_name, l->pool_name));
	if (by_uuid)
		FUZZ_ASSERT(!memcmp(a->pool_uuid, uuid, 16));
	/* the chosen generation is carried by a valid label of that pool; by
	 * name, the name selects the uuid (FORMAT.md §6 step 1: then all labels of
	 * that uuid count, so the newest may carry another name) */
	int carried = 0, named = by_uuid;
	for (size_t k = 0; k < n; k++) {
		const struct dms_label *o = &found[k].label;
		if (dms_label_validate(o) == 0 && !memcmp(o->pool_uuid, a->pool_uuid, 16)) {
			FUZZ_ASSERT(o->generation <= a->newest_generation);
			carried |= o->generation == a->generation;
			named |= !strcmp(o->pool_name, name);
		}
	}
	FUZZ_ASSERT(carried && named);

	if (r == -ENODEV) {
		FUZZ_ASSERT(a->missing_count >= 1 && a->missing_count <= l->member_count);
		for (size_t i = 0; i < a->missing_count; i++)
			FUZZ_ASSERT(fuzz_terminated(a->missing[i], sizeof(a->missing[i])) && a->missing[i][0]);
		return;
	}
	FUZZ_ASSERT(a->missing_count == 0);
	for (uint32_t i = 0; i < DMS_MAX_MEMBERS; i++) {
		size_t k = a->member_found[i];
		if (i >= l->member_count) {
			FUZZ_ASSERT(k == SIZE_MAX);
			continue;
		}
		FUZZ_ASSERT(k < n);
		const struct dms_label *own = &found[k].label;
		FUZZ_ASSERT(dms_label_validate(own) == 0);
		FUZZ_ASSERT(!memcmp(own->pool_uuid, a->pool_uuid, 16));
		FUZZ_ASSERT(!memcmp(own->member_uuid, l->members[i].uuid, 16));
		FUZZ_ASSERT(own->member_index == i);
		for (size_t j = 0; j < n && !found[k].live; j++)   /* never a copy over its live original */
			FUZZ_ASSERT(!(found[j].live && !memcmp(found[j].label.member_uuid, own->member_uuid, 16) &&
				      !memcmp(found[j].label.pool_uuid, own->pool_uuid, 16) &&
				      found[j].label.generation >= own->generation && dms_label_validate(&found[j].label) == 0));
		FUZZ_ASSERT(a->stale[i] == (own->generation < a->generation));
		for (uint32_t j = 0; j < i; j++)
			FUZZ_ASSERT(a->member_found[j] != k); /* one device, one member */
	}

	/* What the caller does next with a complete assembly. */
	static struct dms_table t;
	if (dms_plan_linear(l, &t) == 0) {
		/* a stripe (label v2) is one segment over the first stripe_count members */
		const uint32_t first = l->stripe_count >= 2 ? l->stripe_count : 0;
		FUZZ_ASSERT(t.count == l->member_count - (first ? first - 1 : 0));
		sectors_t start = 0;
		for (size_t i = 0; i < t.count; i++) {
			FUZZ_ASSERT(t.seg[i].start_sectors == start && t.seg[i].length_sectors > 0);
			FUZZ_ASSERT(t.seg[i].member_index == (first && i ? first + i - 1 : i));
			FUZZ_ASSERT(first && i == 0 ? t.seg[i].stripes == first : t.seg[i].stripes == 0);
			start += t.seg[i].length_sectors;
		}
		FUZZ_ASSERT(t.total_sectors == start);
		char params[64];
		FUZZ_ASSERT(dms_segment_params(&t.seg[0], 259, 1, params, sizeof(params)) == 0);
	}
	static struct dms_label lm, next;
	static uint8_t enc[DMS_LABEL_COPY_BYTES];
	for (uint32_t i = 0; i < l->member_count; i++) {
		dms_label_for_member(l, i, &lm);
		FUZZ_ASSERT(dms_label_validate(&lm) == 0);
		FUZZ_ASSERT(dms_label_encode(&lm, i & 1u, enc, sizeof(enc)) == 0);
	}
	struct dms_member m = { .uuid = { 0xfe, 0xed, 0xfa, 0xce } };
	FUZZ_ASSERT(dms_member_layout(8 * GIB, 0, &m) == 0);
	int ra = dms_plan_append(l, &m, &next);
	if (ra == 0) {
		FUZZ_ASSERT(dms_label_validate(&next) == 0);
		FUZZ_ASSERT(next.member_count == l->member_count + 1 && next.generation == l->generation + 1);
	} else {
		FUZZ_ASSERT(ra == -E2BIG || ra == -EOVERFLOW || ra == -EINVAL);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dms_found found[MAX_FOUND];
	static struct dms_assembly a;
	if (size < 1)
		return 0;
	const uint8_t flags = data[0];
	size_t off = 1, n = 0;
	while (n < MAX_FOUND && size - off >= 16) {
		size_t left = size - off, len = left;
		if (left >= F_LABEL_LEN_OFF + 4) {
			uint32_t l = le32(data + off + F_LABEL_LEN_OFF);
			if (l >= 16 && l <= left)
				len = l;
		}
		uint8_t *buf = fuzz_copy(data + off, len);
		if (flags & 1)
			fix_crc(buf, len);
		unsigned copy = len > F_COPY_OFF ? (buf[F_COPY_OFF] & 1u) : 0u;
		found[n].devnode = NODES[n];
		found[n].live = (flags & 0x80) && !(n & 1);
		int r = dms_label_decode(buf, len, copy, &found[n].label);
		if (r == 0) {
			n++;
		} else if (flags & 0x40) {
			memset(&found[n].label, 0, sizeof(found[n].label));
			memcpy(&found[n].label, buf, len < sizeof(found[n].label) ? len : sizeof(found[n].label));
			n++;
		}
		free(buf);
		off += len;
	}
	if (n == 0)
		return 0;

	const int by_uuid = flags & 2;
	const struct dms_label *pick = &found[((flags >> 2) & 0xf) % n].label;
	char name[DMS_POOL_NAME_MAX];
	memcpy(name, pick->pool_name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	uint8_t uuid[16];
	memcpy(uuid, found[0].label.pool_uuid, 16);

	int r = dms_plan_assembly(found, n, by_uuid ? NULL : name, by_uuid ? uuid : NULL, &a);
	check_assembly(found, n, by_uuid, uuid, name, r, &a);
	return 0;
}
