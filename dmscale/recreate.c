/* Scratch recreate (pure): plan the rebuild of a pool whose instance storage
 * was lost, from its blank instance-store disks and surviving EBS members. */
#include "dmscale/recreate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmscale/stripe.h"

#define MAX_INCARNATIONS 8
#define DMS_ISTORE_SRC_MAX (2 * DMS_MAX_STRIPE)

/* A label of this pool's lineage (any incarnation)? */
static bool in_family(const struct dms_label *l, const char *name, const uint8_t lineage[16])
{
	uint8_t lg[16];
	if (dms_label_validate(l) < 0 || strcmp(l->pool_name, name))
		return false;
	dms_label_lineage(l, lg);
	return memcmp(lg, lineage, 16) == 0;
}

static void add_missing(struct dms_recreate_plan *p, const struct dms_member *m)
{
	if (p->missing_count >= sizeof(p->missing) / sizeof(p->missing[0])) {
		p->missing_count++;
		return;
	}
	char *dst = p->missing[p->missing_count++];
	if (m->volume_id[0]) {
		snprintf(dst, sizeof(p->missing[0]), "%s", m->volume_id);
	} else {
		char u[37];
		dms_uuid_format(m->uuid, u);
		snprintf(dst, sizeof(p->missing[0]), "member %s", u);
	}
}

/* The pool uuids carrying the name, and their common lineage. */
static int incarnations(const struct dms_recreate_spec *s, uint8_t uu[MAX_INCARNATIONS][16], size_t *nu,
			uint8_t lineage[16])
{
	*nu = 0;
	for (size_t k = 0; k < s->n; k++) {
		const struct dms_label *l = &s->found[k].label;
		if (dms_label_validate(l) < 0 || strcmp(l->pool_name, s->name))
			continue;
		uint8_t lg[16];
		dms_label_lineage(l, lg);
		if (*nu == 0)
			memcpy(lineage, lg, 16);
		else if (memcmp(lineage, lg, 16))
			return -ENOTUNIQ;       /* two unrelated pools with one name */
		size_t j;
		for (j = 0; j < *nu && memcmp(uu[j], l->pool_uuid, 16); j++)
			;
		if (j == *nu) {
			if (*nu == MAX_INCARNATIONS)
				return -EUCLEAN;
			memcpy(uu[(*nu)++], l->pool_uuid, 16);
		}
	}
	return 0;
}

/* Insertion sort of the instance-store sources by device node. */
static const char *src_node(const struct dms_recreate_spec *s, const struct dms_recreate_src *x)
{
	const char *n = x->blank ? s->blank[x->index].devnode : s->found[x->index].devnode;
	return n ? n : "";
}

static void sort_sources(const struct dms_recreate_spec *s, struct dms_recreate_src *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(src_node(s, &v[j - 1]), src_node(s, &v[j])) > 0; j--) {
			struct dms_recreate_src t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

/* Find the device carrying member uuid u in the family: index or SIZE_MAX. */
static size_t find_member(const struct dms_recreate_spec *s, const uint8_t u[16], const uint8_t lineage[16])
{
	for (size_t k = 0; k < s->n; k++)
		if (in_family(&s->found[k].label, s->name, lineage) && !memcmp(s->found[k].label.member_uuid, u, 16))
			return k;
	return SIZE_MAX;
}

static int build(const struct dms_recreate_spec *s, const struct dms_label *cur, const uint8_t lineage[16],
		 const struct dms_label *tables, size_t nt, struct dms_recreate_plan *p)
{
	struct dms_label *l = &p->label;
	struct dms_recreate_src is[DMS_ISTORE_SRC_MAX];
	size_t nis = 0;
	memset(l, 0, sizeof(*l));

	/* instance store: the family's own instance-store devices, then the blank disks */
	for (size_t k = 0; k < s->n && nis < DMS_ISTORE_SRC_MAX; k++) {
		const struct dms_label *o = &s->found[k].label;
		if (in_family(o, s->name, lineage) && o->members[o->member_index].kind == DMS_KIND_INSTANCE_STORE)
			is[nis++] = (struct dms_recreate_src){ .blank = false, .index = k };
	}
	for (size_t b = 0; b < s->nblank && nis < DMS_ISTORE_SRC_MAX; b++)
		is[nis++] = (struct dms_recreate_src){ .blank = true, .index = b };
	sort_sources(s, is, nis);
	if (nis > DMS_MAX_STRIPE) {
		p->ignored_blank = nis - DMS_MAX_STRIPE;
		nis = DMS_MAX_STRIPE;
	}
	for (size_t i = 0; i < nis; i++) {
		struct dms_member *m = &l->members[l->member_count];
		bytes_t size = is[i].blank ? s->blank[is[i].index].size_bytes :
			       s->found[is[i].index].label.members[s->found[is[i].index].label.member_index].size_bytes;
		if (dms_member_layout(size, 0, m) < 0)
			continue;               /* too small: left out */
		memcpy(m->uuid, s->new_member_uuid[i], 16);
		m->kind = DMS_KIND_INSTANCE_STORE;
		p->src[l->member_count++] = is[i];
	}
	p->istore_count = l->member_count;

	/* EBS: the newest table's order, then any other incarnation's EBS member */
	for (size_t t = 0; t <= nt; t++) {
		const struct dms_label *tb = t == 0 ? cur : &tables[t - 1];
		for (uint32_t i = 0; i < tb->member_count; i++) {
			const struct dms_member *m = &tb->members[i];
			if (m->kind != DMS_KIND_EBS)
				continue;
			bool dup = false;
			for (uint32_t j = p->istore_count; j < l->member_count && !dup; j++)
				dup = !memcmp(l->members[j].uuid, m->uuid, 16);
			if (dup)
				continue;
			size_t k = find_member(s, m->uuid, lineage);
			if (k == SIZE_MAX) {
				add_missing(p, m);
				continue;
			}
			if (l->member_count >= DMS_MAX_MEMBERS)
				return -E2BIG;
			l->members[l->member_count] = *m;
			p->src[l->member_count++] = (struct dms_recreate_src){ .blank = false, .index = k };
		}
	}
	if (p->missing_count)
		return -ENODEV;
	if (l->member_count == 0)
		return DMS_RECREATE_NOT_NEEDED;

	l->generation = 1;
	memcpy(l->pool_uuid, s->new_pool_uuid, 16);
	memcpy(l->lineage_uuid, lineage, 16);
	l->recreate_epoch = p->old_epoch + 1;
	snprintf(l->pool_name, sizeof(l->pool_name), "%s", cur->pool_name);
	snprintf(l->fs_type, sizeof(l->fs_type), "%s", cur->fs_type);
	l->target = DMS_TARGET_LINEAR;
	l->created_unix = s->now_unix;
	if (p->istore_count >= 2) {
		int r = dms_stripe_layout(l, p->istore_count, s->chunk_bytes);
		if (r < 0)
			return r;
	}
	l->version = DMS_LABEL_VERSION_2;
	dms_label_for_member(l, 0, l);
	return dms_label_validate(l);
}

int dms_recreate_plan(const struct dms_recreate_spec *s, struct dms_recreate_plan *p)
{
	if (!s || !p || !s->name || (s->n && !s->found) || (s->nblank && !s->blank))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	uint8_t uu[MAX_INCARNATIONS][16], lineage[16];
	size_t nu;
	int r = incarnations(s, uu, &nu, lineage);
	if (r < 0)
		return r;
	if (nu == 0)
		return DMS_RECREATE_NOT_NEEDED;

	struct dms_assembly *a = calloc(1, sizeof(*a));
	struct dms_label *tables = calloc(MAX_INCARNATIONS, sizeof(*tables));
	r = -ENOMEM;
	if (!a || !tables)
		goto out;
	size_t newest = SIZE_MAX;
	for (size_t u = 0; u < nu; u++) {
		r = dms_plan_assembly(s->found, s->n, NULL, uu[u], a);
		if ((r != 0 && r != -ENODEV) || (nu == 1 && r == 0) || a->label.target != DMS_TARGET_LINEAR) {
			r = DMS_RECREATE_NOT_NEEDED;    /* complete, or another problem: reported as usual */
			goto out;
		}
		tables[u] = a->label;
		if (nu == 1) {
			/* only lost instance storage makes a recreate: a missing EBS
			 * member is waited for (it may still be attaching) */
			for (uint32_t i = 0; i < a->label.member_count; i++) {
				if (a->member_found[i] != SIZE_MAX)
					continue;
				if (a->label.members[i].kind != DMS_KIND_INSTANCE_STORE) {
					r = DMS_RECREATE_NOT_NEEDED;
					goto out;
				}
				p->lost_count++;
			}
		}
		if (newest != SIZE_MAX && tables[newest].recreate_epoch == a->label.recreate_epoch) {
			r = -EUCLEAN;           /* two incarnations of one epoch: not ours to settle */
			goto out;
		}
		if (newest == SIZE_MAX || a->label.recreate_epoch > tables[newest].recreate_epoch)
			newest = u;
	}
	p->incarnations = nu;
	memcpy(p->old_pool_uuid, tables[newest].pool_uuid, 16);
	p->old_epoch = tables[newest].recreate_epoch;
	p->old_data_bytes = dms_label_data_bytes(&tables[newest]);
	for (uint32_t i = 0; i < tables[newest].member_count; i++)
		p->old_istore_count += tables[newest].members[i].kind == DMS_KIND_INSTANCE_STORE;
	/* the others, for EBS members the newest table may not list */
	struct dms_label cur = tables[newest];
	if (newest != nu - 1)
		tables[newest] = tables[nu - 1];
	r = build(s, &cur, lineage, tables, nu - 1, p);
out:
	free(tables);
	free(a);
	return r;
}

bool dms_recreate_short(const struct dms_recreate_plan *p, size_t unprobed)
{
	return p && (unprobed > 0 || p->istore_count < p->old_istore_count);
}

int dms_recreate_run(const struct dms_recreate_plan *p, const struct dms_recreate_io *io,
		     enum dms_recreate_step *failed_step)
{
	const struct dms_label *l = &p->label;
	uint32_t ebs[DMS_MAX_MEMBERS], is[DMS_MAX_STRIPE];
	size_t nebs = 0, nis = 0;
	struct dms_label *labels = calloc(l->member_count, sizeof(*labels));
	int r = -ENOMEM;
	enum dms_recreate_step step = DMS_RECREATE_ZERO;
	if (!labels)
		goto out;
	for (uint32_t i = 0; i < l->member_count; i++) {
		if (i < p->istore_count)
			is[nis++] = i;
		else
			ebs[nebs++] = i;
	}
	struct dms_label *lebs = labels, *lis = labels + nebs;
	for (size_t i = 0; i < nebs; i++)
		dms_label_for_member(l, ebs[i], &lebs[i]);
	for (size_t i = 0; i < nis; i++)
		dms_label_for_member(l, is[i], &lis[i]);

	/* 1. No old filesystem may be taken for the new one (mkfs runs on a
	 *    device where none is found): zero the start of each data area. */
	for (uint32_t i = 0; i < l->member_count; i++)
		if ((r = io->zero(io->ctx, i, l->members[i].data_offset_bytes, MIB)) < 0)
			goto out;
	/* 2. EBS members hold valid labels of an older incarnation: A then B,
	 *    so each keeps a valid copy; the higher epoch wins on read. */
	step = DMS_RECREATE_EBS_A;
	if (nebs && (r = io->write_copy(io->ctx, ebs, lebs, nebs, 0)) < 0)
		goto out;
	step = DMS_RECREATE_EBS_B;
	if (nebs && (r = io->write_copy(io->ctx, ebs, lebs, nebs, 1)) < 0)
		goto out;
	/* 3. Instance-store disks are blank (or of an older incarnation): B
	 *    then A, so a blank one reads blank (copy A has no magic) or
	 *    labelled, never as a damaged label. */
	step = DMS_RECREATE_IS_B;
	if (nis && (r = io->write_copy(io->ctx, is, lis, nis, 1)) < 0)
		goto out;
	step = DMS_RECREATE_IS_A;
	if (nis && (r = io->write_copy(io->ctx, is, lis, nis, 0)) < 0)
		goto out;
	r = 0;
out:
	if (r < 0 && failed_step)
		*failed_step = step;
	free(labels);
	return r;
}
