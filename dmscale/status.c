/* `dmscale status`: live state from sysfs + statvfs (works unprivileged) and,
 * as root, the member list from the labels. */
#include "dmscale/status.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dmscale/device.h"
#include "dmscale/dm.h"
#include "dmscale/thin.h"
#include "dmscale/fs.h"
#include "dmscale/log.h"
#include "dmscale/metrics.h"
#include "dmscale/plan.h"
#include "dmscale/pool_api.h"

static int read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int r = fgets(out, (int)len, f) ? 0 : -EIO;
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	return r;
}

/* Find /sys/block/dm-N whose dm/name is `dmname`. */
static int find_dm_sysfs(const char *dmname, char *sysdir, size_t len)
{
	DIR *d = opendir("/sys/block");
	if (!d)
		return -errno;
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(d))) {
		if (strncmp(de->d_name, "dm-", 3))
			continue;
		char p[512], name[256];
		if (strlen(de->d_name) > 200)
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/dm/name", de->d_name);
		if (read_line(p, name, sizeof(name)) == 0 && !strcmp(name, dmname)) {
			snprintf(sysdir, len, "/sys/block/%.200s", de->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

/* Thin pool usage from the kernel (root only: dm ioctls). */
static void collect_thin(const char *dmname, struct dms_status *st)
{
	char tpool[160], type[32], params[512];
	struct dms_thin_pool_status ps;
	snprintf(tpool, sizeof(tpool), "%s-tpool", dmname);
	if (dms_thin_status_read(tpool, &ps, NULL) < 0)
		return;
	struct dms_status_thin *t = &st->pool;
	t->known = true;
	t->data_used_bytes = ps.data_used_blocks * DMS_THIN_BLOCK_BYTES;
	t->data_total_bytes = ps.data_total_blocks * DMS_THIN_BLOCK_BYTES;
	t->metadata_used_bytes = ps.meta_used_blocks * DMS_THIN_META_BLOCK_BYTES;
	t->metadata_total_bytes = ps.meta_total_blocks * DMS_THIN_META_BLOCK_BYTES;
	t->needs_check = ps.needs_check;
	snprintf(t->mode, sizeof(t->mode), "%s", dms_thin_mode_name(ps.mode));
	/* table: "META DATA BLOCK_SECTORS LOW_WATER_BLOCKS ..." */
	unsigned long long block_sectors, lwm;
	if (dms_dm_table_first(tpool, type, sizeof(type), params, sizeof(params)) == 0 &&
	    sscanf(params, "%*s %*s %llu %llu", &block_sectors, &lwm) == 2)
		t->low_water_mark_bytes = (bytes_t)(lwm * block_sectors * SECTOR_BYTES);
	char vol[160];
	snprintf(vol, sizeof(vol), "%s", dmname);
	struct dms_dm_info vi;
	if (dms_dm_info(vol, &vi) == 0 && vi.exists)
		t->virtual_bytes = sectors_to_bytes(vi.size_sectors);
}

/* Volume id and size of a whole disk (works unprivileged: sysfs and udev). */
static void sysfs_member(const char *name, struct dms_status_member *m)
{
	struct dms_device dev;
	if (dms_device_inspect(m->device, &dev) == 0) {
		snprintf(m->volume_id, sizeof(m->volume_id), "%s", dev.volume_id);
		m->size_bytes = dev.size_bytes;
	}
}

int dms_status_collect(const char *pool, struct dms_status *st)
{
	char dmname[128], sysdir[256], p[600], buf[256];
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", pool);
	snprintf(st->target, sizeof(st->target), "linear");
	snprintf(dmname, sizeof(dmname), "dmscale-%s", pool);
	snprintf(st->dm_device, sizeof(st->dm_device), "/dev/mapper/%s", dmname);
	snprintf(st->state, sizeof(st->state), "inactive");
	st->privileged = geteuid() == 0;
	/* Pending first: an attach unpends a volume only after the filesystem has
	 * grown over it, so a volume missing from this list has its growth in the
	 * figures read below (read last, a mid-attach status showed the new
	 * member, no pending volume and the filesystem at its old size). */
	(void)dms_pending_load(NULL, pool, &st->pending);

	int active = find_dm_sysfs(dmname, sysdir, sizeof(sysdir)) == 1;
	size_t table_members = 0;
	/* Thin mode: members hang under the data device, not the thin volume. */
	char dataname[160], datasys[256], slavesys[256];
	snprintf(dataname, sizeof(dataname), "%s-tdata", dmname);
	bool thin = find_dm_sysfs(dataname, datasys, sizeof(datasys)) == 1;
	snprintf(slavesys, sizeof(slavesys), "%s", thin ? datasys : sysdir);
	if (thin) {
		snprintf(st->target, sizeof(st->target), "thin");
		if (st->privileged)
			collect_thin(dmname, st);
	}
	if (active) {
		snprintf(st->state, sizeof(st->state), "active");
		snprintf(p, sizeof(p), "%s/size", sysdir);
		if (read_line(p, buf, sizeof(buf)) == 0)
			st->size_bytes = strtoull(buf, NULL, 10) * 512ULL;
		snprintf(p, sizeof(p), "%s/dm/uuid", sysdir);
		if (read_line(p, buf, sizeof(buf)) == 0 && strlen(buf) >= 8 + 36)
			snprintf(st->uuid, sizeof(st->uuid), "%.36s", buf + 8);
		snprintf(p, sizeof(p), "%s/dev", sysdir);
		unsigned ma, mi;
		if (read_line(p, buf, sizeof(buf)) == 0 && sscanf(buf, "%u:%u", &ma, &mi) == 2 &&
		    dms_fs_find_mount(makedev(ma, mi), st->mountpoint, sizeof(st->mountpoint)) == 1) {
			struct dms_fs_usage u;
			if (dms_fs_usage(st->mountpoint, &u) == 0) {
				st->fs_mounted = true;
				st->fs_size_bytes = u.size_bytes;
				st->fs_used_bytes = u.used_bytes;
				st->fs_free_bytes = u.free_bytes;
			}
		}
		snprintf(p, sizeof(p), "%s/slaves", slavesys);
		DIR *d = opendir(p);
		struct dirent *de;
		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.')
				table_members++;
		if (d)
			closedir(d);
	}

	if (st->privileged) {
		struct dms_pool_query *q = calloc(1, sizeof(*q));
		if (!q)
			return -ENOMEM;
		int r = dms_pool_query(pool, q);
		const struct dms_assembly *a = &q->a;
		if (r == 0 || r == -ENODEV) {
			const struct dms_label *l = &a->label;
			dms_uuid_format(l->pool_uuid, st->uuid);
			st->generation = a->generation;
			snprintf(st->fs_type, sizeof(st->fs_type), "%s", l->fs_type);
			if (l->target == DMS_TARGET_THIN)
				snprintf(st->target, sizeof(st->target), "thin");
			st->member_count = l->member_count;
			for (uint32_t i = 0; i < l->member_count; i++) {
				struct dms_status_member *m = &st->members[i];
				m->index = i;
				snprintf(m->device, sizeof(m->device), "%s", q->nodes[i]);
				snprintf(m->volume_id, sizeof(m->volume_id), "%s", l->members[i].volume_id);
				m->size_bytes = l->members[i].size_bytes;
				m->data_offset_bytes = l->members[i].data_offset_bytes;
				m->data_bytes = l->members[i].data_bytes;
				m->have_layout = true;
				snprintf(m->kind, sizeof(m->kind), "%s",
					 l->members[i].kind == DMS_KIND_INSTANCE_STORE ? "instance-store" : "ebs");
				m->striped = i < l->stripe_count;
			}
			st->stripe_count = l->stripe_count;
			st->stripe_chunk_bytes = l->stripe_chunk_bytes;
			if (r == -ENODEV)
				snprintf(st->state, sizeof(st->state), "degraded");
			else if (active && table_members < l->member_count)
				/* labels already list a member the table does not have yet: an
				 * attach between its label writes and its reload (or one cut
				 * off there, which the next attach or boot finishes) */
				snprintf(st->state, sizeof(st->state), "growing");
			if (r == -ENODEV)
				snprintf(st->note, sizeof(st->note), "%zu member(s) missing", a->missing_count);
			else if (a->clones)
				snprintf(st->note, sizeof(st->note), "%zu copy(ies) of a live member ignored (cloned "
					 "volumes: detach them)", a->clones);
		} else if (r == -ENOTUNIQ) {
			snprintf(st->note, sizeof(st->note), "two devices carry the same member label (a cloned "
				 "volume?): detach the copy");
		} else if (r != -ENOENT) {
			snprintf(st->note, sizeof(st->note), "labels unreadable: %s", strerror(-r));
		}
		st->labels_found = r != -ENOENT;
		st->members_known = (r == 0 || r == -ENODEV || r == -ENOENT) && q->unreadable == 0;
		free(q);
	} else if (active) {
		snprintf(st->note, sizeof(st->note),
			 "not root: members from sysfs only; run as root for labels, generation and layout");
		snprintf(p, sizeof(p), "%s/slaves", slavesys);
		DIR *d = opendir(p);
		struct dirent *de;
		while (d && (de = readdir(d)) && st->member_count < DMS_MAX_MEMBERS) {
			if (de->d_name[0] == '.')
				continue;
			struct dms_status_member *m = &st->members[st->member_count];
			m->index = st->member_count++;
			snprintf(m->device, sizeof(m->device), "/dev/%.200s", de->d_name);
			sysfs_member(de->d_name, m);
		}
		if (d)
			closedir(d);
	}
	if (st->pool.known && (st->pool.needs_check || strcmp(st->pool.mode, "rw"))) {
		snprintf(st->state, sizeof(st->state), "degraded");
		snprintf(st->note, sizeof(st->note), "thin pool is %s%s: the filesystem is not safe to write; see "
			 "'dmscale assemble' for the repair steps", st->pool.mode,
			 st->pool.needs_check ? " and needs_check" : "");
	}
	if (!st->fs_type[0] && st->fs_mounted) {
		/* unprivileged: take the type from mountinfo via statfs-less route */
		snprintf(st->fs_type, sizeof(st->fs_type), "unknown");
	}
	/* The daemon's view, refreshed by it under /run/dmscale (world-readable). */
	snprintf(p, sizeof(p), DMS_RUN_DIR "/%s.daemon.json", pool);
	json_t *dj = json_load_file(p, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(dj)) {
		json_int_t pid = json_integer_value(json_object_get(dj, "pid"));
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/%lld", (long long)pid);
		st->daemon_running = pid > 0 && access(proc, F_OK) == 0;
		json_object_set_new(dj, "running", json_boolean(st->daemon_running));
		json_object_del(dj, "pid");
		st->daemon = dj;
	} else {
		json_decref(dj);
	}
	return 0;
}

uint32_t dms_status_ebs_members(const struct dms_status *st)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < st->member_count && i < DMS_MAX_MEMBERS; i++)
		n += strcmp(st->members[i].kind, "instance-store") != 0;
	return n;
}

void dms_status_release(struct dms_status *st)
{
	json_decref((json_t *)st->daemon);
	st->daemon = NULL;
}

int dms_status_print_json(const struct dms_status *st, FILE *f)
{
	json_t *o = json_object(), *members = json_array(), *pending = json_array(), *fs = json_object();
	json_object_set_new(o, "name", json_string(st->name));
	json_object_set_new(o, "exists", json_true());
	json_object_set_new(o, "target", json_string(st->target));
	json_object_set_new(o, "dm_device", json_string(st->dm_device));
	json_object_set_new(o, "uuid", st->uuid[0] ? json_string(st->uuid) : json_null());
	json_object_set_new(o, "generation", st->generation ? json_integer((json_int_t)st->generation) : json_null());
	json_object_set_new(o, "state", json_string(st->state));
	json_object_set_new(o, "mountpoint", st->mountpoint[0] ? json_string(st->mountpoint) : json_null());
	json_object_set_new(o, "size_bytes", json_integer((json_int_t)st->size_bytes));
	json_object_set_new(fs, "type", st->fs_type[0] ? json_string(st->fs_type) : json_null());
	json_object_set_new(fs, "size_bytes", json_integer((json_int_t)st->fs_size_bytes));
	json_object_set_new(fs, "used_bytes", json_integer((json_int_t)st->fs_used_bytes));
	json_object_set_new(fs, "free_bytes", json_integer((json_int_t)st->fs_free_bytes));
	json_object_set_new(o, "filesystem", fs);
	if (st->pool.known) {
		const struct dms_status_thin *t = &st->pool;
		json_t *pj = json_object();
		json_object_set_new(pj, "virtual_bytes", json_integer((json_int_t)t->virtual_bytes));
		json_object_set_new(pj, "data_used_bytes", json_integer((json_int_t)t->data_used_bytes));
		json_object_set_new(pj, "data_total_bytes", json_integer((json_int_t)t->data_total_bytes));
		json_object_set_new(pj, "metadata_used_bytes", json_integer((json_int_t)t->metadata_used_bytes));
		json_object_set_new(pj, "metadata_total_bytes", json_integer((json_int_t)t->metadata_total_bytes));
		json_object_set_new(pj, "low_water_mark_bytes", json_integer((json_int_t)t->low_water_mark_bytes));
		json_object_set_new(pj, "mode", json_string(t->mode));
		json_object_set_new(pj, "needs_check", json_boolean(t->needs_check));
		json_object_set_new(o, "pool", pj);
	} else if (!strcmp(st->target, "thin")) {
		json_object_set_new(o, "pool", json_null());
	}
	for (uint32_t i = 0; i < st->member_count; i++) {
		const struct dms_status_member *m = &st->members[i];
		json_t *j = json_object();
		json_object_set_new(j, "index", json_integer(m->index));
		json_object_set_new(j, "device", m->device[0] ? json_string(m->device) : json_null());
		json_object_set_new(j, "volume_id", m->volume_id[0] ? json_string(m->volume_id) : json_null());
		json_object_set_new(j, "size_bytes", json_integer((json_int_t)m->size_bytes));
		json_object_set_new(j, "data_offset_bytes",
				    m->have_layout ? json_integer((json_int_t)m->data_offset_bytes) : json_null());
		json_object_set_new(j, "data_bytes", m->have_layout ? json_integer((json_int_t)m->data_bytes) : json_null());
		json_object_set_new(j, "kind", m->kind[0] ? json_string(m->kind) : json_null());
		json_object_set_new(j, "striped", json_boolean(m->striped));
		json_array_append_new(members, j);
	}
	json_object_set_new(o, "members", members);
	if (st->stripe_count) {
		json_t *sj = json_object();
		json_object_set_new(sj, "members", json_integer(st->stripe_count));
		json_object_set_new(sj, "chunk_bytes", json_integer((json_int_t)st->stripe_chunk_bytes));
		json_object_set_new(o, "stripe", sj);
	} else {
		json_object_set_new(o, "stripe", json_null());
	}
	for (size_t i = 0; i < st->pending.count; i++)
		json_array_append_new(pending, json_string(st->pending.ids[i]));
	json_object_set_new(o, "pending", pending);
	json_object_set(o, "daemon", st->daemon ? (json_t *)st->daemon : json_null());
	if (st->note[0])
		json_object_set_new(o, "note", json_string(st->note));
	int r = json_dumpf(o, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	json_decref(o);
	return r < 0 ? -EIO : 0;
}

static void human(bytes_t b, char *out, size_t len)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

int dms_status_print_table(const struct dms_status *st, FILE *f)
{
	char a[32], b[32], c[32];
	fprintf(f, "pool        %s (%s, %s)\n", st->name, st->target, st->state);
	fprintf(f, "device      %s\n", st->dm_device);
	if (st->uuid[0])
		fprintf(f, "uuid        %s\n", st->uuid);
	if (st->generation)
		fprintf(f, "generation  %llu\n", (unsigned long long)st->generation);
	human(st->size_bytes, a, sizeof(a));
	fprintf(f, "size        %s\n", a);
	if (st->fs_mounted) {
		human(st->fs_size_bytes, a, sizeof(a));
		human(st->fs_used_bytes, b, sizeof(b));
		human(st->fs_free_bytes, c, sizeof(c));
		fprintf(f, "filesystem  %s at %s: %s, %s used, %s free\n", st->fs_type, st->mountpoint, a, b, c);
	} else {
		fprintf(f, "filesystem  not mounted\n");
	}
	if (st->pool.known) {
		const struct dms_status_thin *t = &st->pool;
		human(t->data_used_bytes, a, sizeof(a));
		human(t->data_total_bytes, b, sizeof(b));
		human(t->low_water_mark_bytes, c, sizeof(c));
		fprintf(f, "thin pool   %s: data %s of %s used (%.1f%%), signals below %s free\n", t->mode, a, b,
			t->data_total_bytes ? 100.0 * (double)t->data_used_bytes / (double)t->data_total_bytes : 0.0,
			c);
		human(t->metadata_used_bytes, a, sizeof(a));
		human(t->metadata_total_bytes, b, sizeof(b));
		fprintf(f, "            metadata %s of %s used%s\n", a, b, t->needs_check ? ", NEEDS CHECK" : "");
	}
	if (st->stripe_count) {
		human(st->stripe_chunk_bytes, a, sizeof(a));
		fprintf(f, "stripe      members 0-%u (instance store), %s chunks\n", st->stripe_count - 1, a);
	}
	fprintf(f, "\n  %-5s %-16s %-22s %12s %12s %14s  %s\n", "INDEX", "DEVICE", "VOLUME", "SIZE", "OFFSET", "DATA",
		"KIND");
	for (uint32_t i = 0; i < st->member_count; i++) {
		const struct dms_status_member *m = &st->members[i];
		human(m->size_bytes, a, sizeof(a));
		human(m->data_offset_bytes, b, sizeof(b));
		human(m->data_bytes, c, sizeof(c));
		fprintf(f, "  %-5u %-16s %-22s %12s %12s %14s  %s%s\n", m->index, m->device[0] ? m->device : "(missing)",
			m->volume_id[0] ? m->volume_id : "-", a, m->have_layout ? b : "?", m->have_layout ? c : "?",
			m->kind[0] ? m->kind : "?", m->striped ? " (striped)" : "");
	}
	for (size_t i = 0; i < st->pending.count; i++)
		fprintf(f, "  pending %s\n", st->pending.ids[i]);
	const json_t *dj = st->daemon;
	if (dj) {
		human((bytes_t)json_integer_value(json_object_get(dj, "threshold_bytes")), a, sizeof(a));
		double rate = json_number_value(json_object_get(dj, "fill_rate_bps"));
		human(rate > 0 ? (bytes_t)rate : 0, b, sizeof(b));   /* shrinking shows as 0 */
		fprintf(f, "\ndaemon      %s; provisions below %s free; fill rate %s/s; %lld provisioned, "
			"%lld failed; last: %s%s%s\n", st->daemon_running ? "running" : "NOT running", a, b,
			(long long)json_integer_value(json_object_get(dj, "provisioned")),
			(long long)json_integer_value(json_object_get(dj, "failed")),
			json_string_value(json_object_get(dj, "last_result")) ?: "-",
			json_string_length(json_object_get(dj, "last_error")) ? ", error " : "",
			json_string_value(json_object_get(dj, "last_error")) ?: "");
	} else {
		fprintf(f, "\ndaemon      no state (not started for this pool)\n");
	}
	if (st->note[0])
		fprintf(f, "\nnote: %s\n", st->note);
	return 0;
}

bool dms_status_pool_exists(const struct dms_status *st)
{
	return st->labels_found || st->member_count > 0 || strcmp(st->state, "inactive") || st->pool.known ||
	       strcmp(st->target, "linear") || st->pending.count > 0 || st->daemon != NULL;
}

static int print_no_pool(const char *pool, bool json, bool privileged)
{
	char msg[320];
	snprintf(msg, sizeof(msg), "no pool named '%s' exists on this system%s; create one with 'dmscale init%s%s "
		 "DEVICE'", pool, privileged ? "" : " (as far as a user can tell: run as root to read the labels)",
		 strcmp(pool, "scratch") ? " --name " : "", strcmp(pool, "scratch") ? pool : "");
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(pool));
		json_object_set_new(o, "exists", json_false());
		json_object_set_new(o, "error", json_string(msg));
		(void)json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
	}
	return log_error_errno(ENOENT, "%s", msg);
}

int dms_cmd_status(const char *pool, bool json, bool prometheus)
{
	struct dms_status *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	int r = dms_status_collect(pool, st);
	if (r >= 0 && !dms_status_pool_exists(st))
		r = print_no_pool(pool, json, st->privileged);
	else if (r >= 0)
		r = json ? dms_status_print_json(st, stdout)
		    : prometheus ? dms_status_print_prometheus(st, stdout)
		    : dms_status_print_table(st, stdout);
	dms_status_release(st);
	free(st);
	return r;
}
