/* Pool orchestration. The state of a pool lives in its members' labels; every
 * command converges the system towards that state (reconcile), so any step
 * interrupted by a crash is finished by the next attach or assemble. */
#include "dmscale/pool.h"

#include <dirent.h>
#include <fcntl.h>
#include <libudev.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "dmscale/device.h"
#include "dmscale/dm.h"
#include "dmscale/fs.h"
#include "dmscale/log.h"
#include "dmscale/pending.h"
#include "dmscale/plan.h"
#include "dmscale/probe.h"
#include "dmscale/status.h"
#include "dmscale/thin.h"
#include "kmod-helpers/kmod.h"

#define MAX_SCAN 256

struct scan {
	size_t n;                               /* labelled devices found */
	struct dms_device dev[MAX_SCAN];
	struct dms_found found[MAX_SCAN];
};

/* ---- test-only failpoints --------------------------------------------- */

void dms_failpoint(const char *name)
{
	char armed[128] = "";
	const char *env = getenv("DMSCALE_FAILPOINT");
	if (env)
		snprintf(armed, sizeof(armed), "%s", env);
	else {
		FILE *f = fopen(DMS_RUN_DIR "/failpoint.arm", "re");
		if (!f)
			return;
		if (!fgets(armed, sizeof(armed), f))
			armed[0] = '\0';
		fclose(f);
		armed[strcspn(armed, "\n")] = '\0';
	}
	if (strcmp(armed, name))
		return;
	log_warning("failpoint %s reached: stopping here (test only)", name);
	sync();
	FILE *f = fopen(DMS_RUN_DIR "/failpoint.reached", "we");
	if (f) {
		fprintf(f, "%s\n", name);
		fclose(f);
	}
	for (;;)
		pause();
}

/* ---- helpers ------------------------------------------------------------ */

static void dm_name(const char *pool, char *out, size_t len) { snprintf(out, len, "dmscale-%s", pool); }

int dms_pool_lock(const char *pool)
{
	char path[256];
	mkdir(DMS_RUN_DIR, 0755);
	snprintf(path, sizeof(path), DMS_RUN_DIR "/%s.lock", pool);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_error_errno(errno, "%s: cannot create the pool lock: %m (are you root?)", path);
	if (flock(fd, LOCK_EX) < 0) {
		int r = log_error_errno(errno, "%s: cannot take the pool lock: %m", path);
		close(fd);
		return r;
	}
	return fd;
}

void dms_pool_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int valid_pool_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= DMS_POOL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

static int state_path(const char *pool, const char *file, char *out, size_t len)
{
	const char *base = getenv("DMSCALE_STATE_DIR");
	if (!base || !*base)
		base = DMS_STATE_DIR;
	if (snprintf(out, len, "%s/%s/%s", base, pool, file) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static void save_mountpoint(const char *pool, const char *mp)
{
	char path[512];
	const char *base = getenv("DMSCALE_STATE_DIR");
	if (!base || !*base)
		base = DMS_STATE_DIR;
	mkdir(base, 0755);
	snprintf(path, sizeof(path), "%s/%s", base, pool);
	mkdir(path, 0755);
	if (state_path(pool, "mountpoint", path, sizeof(path)) < 0)
		return;
	FILE *f = fopen(path, "we");
	if (f) {
		fprintf(f, "%s\n", mp);
		fflush(f);
		fsync(fileno(f));
		fclose(f);
	}
}

static void load_mountpoint(const char *pool, char *out, size_t len)
{
	char path[512];
	snprintf(out, len, "%s", DMS_DEFAULT_MOUNTPOINT);
	if (state_path(pool, "mountpoint", path, sizeof(path)) < 0)
		return;
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	if (!out[0] || out[0] != '/')
		snprintf(out, len, "%s", DMS_DEFAULT_MOUNTPOINT);
	fclose(f);
}

/* Enumerate whole disks with libudev and read every label (libaio, timeout). */
static int scan_labels(struct scan *s)
{
	struct udev *udev = udev_new();
	if (!udev)
		return log_error_errno(ENOMEM, "libudev: cannot create a context");
	struct udev_enumerate *en = udev_enumerate_new(udev);
	udev_enumerate_add_match_subsystem(en, "block");
	udev_enumerate_add_match_property(en, "DEVTYPE", "disk");
	udev_enumerate_scan_devices(en);
	struct udev_list_entry *e;
	s->n = 0;
	udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
		struct udev_device *ud = udev_device_new_from_syspath(udev, udev_list_entry_get_name(e));
		if (!ud)
			continue;
		const char *node = udev_device_get_devnode(ud);
		const char *sys = udev_device_get_sysname(ud);
		if (node && sys && strncmp(sys, "dm-", 3) && strncmp(sys, "loop", 4) && strncmp(sys, "ram", 3) &&
		    strncmp(sys, "zram", 4) && strncmp(sys, "sr", 2) && s->n < MAX_SCAN) {
			struct dms_device *d = &s->dev[s->n];
			unsigned ok;
			int saved = log_get_level();
			log_set_level(LOG_LVL_ERR);
			int r = dms_device_inspect(node, d);
			log_set_level(saved);
			if (r == 0) {
				r = dms_device_read_label(d, &s->found[s->n].label, &ok);
				if (r == 0) {
					s->found[s->n].devnode = d->node;
					s->found[s->n].torn = 3u & ~ok;
					if (ok != 3)
						log_warning("%s: only label copy %s is valid; it will be rewritten",
							    d->node, ok == 1 ? "A" : "B");
					s->n++;
				} else if (r != -ENODATA) {
					log_warning_errno(r, "%s: unreadable dmscale label, ignoring the device: %m", node);
				}
			}
		}
		udev_device_unref(ud);
	}
	udev_enumerate_unref(en);
	udev_unref(udev);
	return 0;
}

/* Thin-pool low water mark settings (from the daemon's config, see main.c). */
static struct {
	bytes_t low_bytes;
	double low_percent;
} thin_cfg = { 10 * GIB, 10.0 };

static void thin_cfg_from(const struct dms_opts *o)
{
	if (o->low_water_bytes || o->low_water_percent > 0) {
		thin_cfg.low_bytes = o->low_water_bytes;
		thin_cfg.low_percent = o->low_water_percent;
	}
}

/* Finish an interrupted init: generation 1, single member, no fs yet. */
static int ensure_filesystem(const struct dms_label *l, const char *dmnode, bytes_t size)
{
	char what[128];
	int r = dms_probe_signatures(dmnode, what, sizeof(what));
	if (r < 0)
		return r;
	if (r == 1)
		return 0;
	if (l->generation != 1 || l->member_count != 1)
		return log_error_errno(EUCLEAN, "%s: pool %s (generation %llu) holds no filesystem; refusing to "
				       "format a grown pool. Inspect it by hand.", dmnode, l->pool_name,
				       (unsigned long long)l->generation);
	log_info("%s: pool %s has no filesystem yet (a new pool, or an init cut off before mkfs): running "
		 "mkfs.%s", dmnode, l->pool_name, l->fs_type);
	return dms_fs_mkfs(l->fs_type, dmnode, size, l->target == DMS_TARGET_THIN);
}

/* 1. Labels: members still at an older generation get the current list. */
static int finish_labels(const struct scan *s, const struct dms_assembly *a)
{
	const struct dms_label *l = &a->label;
	for (uint32_t i = 0; i < l->member_count; i++) {
		if (!a->stale[i] && !a->repair[i])
			continue;
		struct dms_label ml;
		struct dms_device d = s->dev[a->member_found[i]];
		dms_label_for_member(l, i, &ml);
		int r = dms_device_write_label(&d, &ml);
		if (r < 0)
			return r;
		if (a->stale[i])
			log_notice("%s (%s): label brought to generation %llu (finishing an interrupted change)",
				   d.node, d.volume_id[0] ? d.volume_id : "-", (unsigned long long)l->generation);
		else
			log_notice("%s (%s): torn label copy rewritten (generation %llu)", d.node,
				   d.volume_id[0] ? d.volume_id : "-", (unsigned long long)l->generation);
	}
	return 0;
}

/* The dm-linear table over the members' data areas. */
static int linear_targets(const struct scan *s, const struct dms_assembly *a, struct dms_table *t,
			  struct dms_dm_target *tg)
{
	const struct dms_label *l = &a->label;
	int r = dms_plan_linear(l, t);
	if (r < 0)
		return log_error_errno(r, "pool %s: cannot plan the table: %m", l->pool_name);
	for (size_t i = 0; i < t->count; i++) {
		const struct dms_device *d = &s->dev[a->member_found[t->seg[i].member_index]];
		tg[i].start_sectors = t->seg[i].start_sectors;
		tg[i].length_sectors = t->seg[i].length_sectors;
		tg[i].type = "linear";
		r = dms_segment_params(&t->seg[i], major(d->devnum), minor(d->devnum), tg[i].params,
				       sizeof(tg[i].params));
		if (r < 0)
			return r;
	}
	return 0;
}

/* Make the dm device `name` carry tg[0..n): create it, or reload it if the
 * live table differs (it may only grow). Returns 0 unchanged, 1 created,
 * 2 reloaded, or -errno; info gets the device's info afterwards. */
static int ensure_dm(const char *pool, const char *name, const char *uuid, const struct dms_dm_target *tg, size_t n,
		     bool private_dev, struct dms_dm_info *info)
{
	sectors_t total = n ? tg[n - 1].start_sectors + tg[n - 1].length_sectors : 0;
	int r = dms_dm_info(name, info), ret;
	if (r < 0)
		return r;
	if (!info->exists) {
		r = dms_dm_create_flags(name, uuid, tg, n, private_dev);
		ret = 1;
	} else {
		if (strcmp(info->uuid, uuid))
			return log_error_errno(EEXIST, "/dev/mapper/%s exists but belongs to something else (uuid %s, "
					       "expected %s); remove it or choose another --name", name, info->uuid,
					       uuid);
		if (info->size_sectors > total)
			return log_error_errno(EUCLEAN, "pool %s: live %s (%llu sectors) is longer than its labels "
					       "describe (%llu); refusing to shrink it", pool, name,
					       (unsigned long long)info->size_sectors, (unsigned long long)total);
		r = dms_dm_table_equals(name, tg, n);
		if (r < 0)
			return log_error_errno(r, "pool %s: cannot read the live table of %s: %m", pool, name);
		if (r == 1)
			return 0;
		r = dms_dm_reload(name, tg, n);
		ret = 2;
	}
	if (r < 0)
		return r;
	r = dms_dm_info(name, info);
	if (r < 0)
		return r;
	if (!info->exists)
		return log_error_errno(ENODEV, "/dev/mapper/%s vanished right after it was set up", name);
	return ret;
}

/* 3. Mount (assemble/init only), then grow (linear only; idempotent). */
static int mount_and_grow(const struct dms_label *l, const char *dmnode, dev_t devnum, bytes_t dev_bytes,
			  const char *mountpoint_opt, bool do_mount)
{
	char mp[1024];
	bool thin = l->target == DMS_TARGET_THIN;
	int r = dms_fs_find_mount(devnum, mp, sizeof(mp));
	if (r < 0)
		return log_error_errno(r, "cannot read /proc/self/mountinfo: %m");
	if (r == 0 && do_mount) {
		r = ensure_filesystem(l, dmnode, dev_bytes);
		if (r < 0)
			return r;
		if (mountpoint_opt)
			snprintf(mp, sizeof(mp), "%s", mountpoint_opt);
		else
			load_mountpoint(l->pool_name, mp, sizeof(mp));
		r = dms_fs_mount(l->fs_type, dmnode, mp, thin);
		if (r < 0)
			return r;
		save_mountpoint(l->pool_name, mp);
		log_info("pool %s: %s mounted at %s%s", l->pool_name, l->fs_type, mp,
			 thin ? " (online discard: deleted files return their blocks to the pool)" : "");
		r = 1;
	}
	if (r == 1 && !thin) {
		bool grown;
		struct dms_fs_usage before, after;
		dms_fs_usage(mp, &before);
		r = dms_fs_grow(l->fs_type, mp, dev_bytes, &grown);
		if (r < 0)
			return r;
		dms_fs_usage(mp, &after);
		if (after.size_bytes != before.size_bytes)
			log_info("pool %s: %s at %s grown online %llu -> %llu bytes", l->pool_name, l->fs_type, mp,
				 (unsigned long long)before.size_bytes, (unsigned long long)after.size_bytes);
		dms_failpoint("attach:grown");
	} else if (r == 0) {
		log_info("pool %s: active but not mounted; run dmscale assemble to mount it", l->pool_name);
	}
	return 0;
}

static void unpend_members(const struct dms_label *l)
{
	for (uint32_t i = 0; i < l->member_count; i++)
		if (l->members[i].volume_id[0])
			(void)dms_pending_remove(NULL, l->pool_name, l->members[i].volume_id);
}

static int reconcile_linear(const struct scan *s, const struct dms_assembly *a, const char *mountpoint_opt,
			    bool do_mount)
{
	const struct dms_label *l = &a->label;
	char dmname[128], dmnode[256], uuid[37], dmuuid[64];
	struct dms_table t;
	struct dms_dm_target tg[DMS_MAX_MEMBERS];
	struct dms_dm_info info;

	dm_name(l->pool_name, dmname, sizeof(dmname));
	snprintf(dmnode, sizeof(dmnode), "/dev/mapper/%s", dmname);
	dms_uuid_format(l->pool_uuid, uuid);
	snprintf(dmuuid, sizeof(dmuuid), DMS_DM_UUID_PREFIX "%s", uuid);

	int r = linear_targets(s, a, &t, tg);
	if (r < 0)
		return r;
	r = ensure_dm(l->pool_name, dmname, dmuuid, tg, t.count, false, &info);
	if (r < 0)
		return r;
	if (r == 1)
		log_info("pool %s: activated %s, %u member(s), %llu bytes, generation %llu", l->pool_name, dmnode,
			 l->member_count, (unsigned long long)sectors_to_bytes(t.total_sectors),
			 (unsigned long long)l->generation);
	if (r == 2) {
		log_info("pool %s: table reloaded, %u member(s), now %llu bytes, generation %llu", l->pool_name,
			 l->member_count, (unsigned long long)sectors_to_bytes(t.total_sectors),
			 (unsigned long long)l->generation);
		dms_failpoint("attach:reloaded");
	}
	r = mount_and_grow(l, dmnode, info.devnum, sectors_to_bytes(t.total_sectors), mountpoint_opt, do_mount);
	if (r < 0)
		return r;
	unpend_members(l);
	return 0;
}

static int thin_status(const char *poolname, const char *tpool, struct dms_thin_pool_status *ps)
{
	char type[32], params[512];
	int r = dms_dm_status(tpool, type, sizeof(type), params, sizeof(params), NULL);
	if (r < 0)
		return log_error_errno(r, "pool %s: cannot read the status of %s: %m", poolname, tpool);
	if (strcmp(type, "thin-pool") || dms_thin_parse_pool_status(params, ps) < 0)
		return log_error_errno(EPROTO, "pool %s: unexpected status of %s: %s %s", poolname, tpool, type,
				       params);
	return 0;
}

static int reconcile_thin(const struct scan *s, const struct dms_assembly *a, const char *mountpoint_opt,
			  bool do_mount)
{
	const struct dms_label *l = &a->label;
	char base[128], n_meta[160], n_data[160], n_pool[160], dmnode[256], uuid[37];
	char u_base[80], u_meta[96], u_data[96], u_pool[96];
	struct dms_table t;
	struct dms_dm_target tg[DMS_MAX_MEMBERS], mt, pt, vt;
	struct dms_dm_info di, mi, pi, vi;
	struct dms_thin_pool_status ps;
	int r;

	r = dms_kmod_ensure("dm_thin_pool");
	if (r < 0)
		return r;
	dm_name(l->pool_name, base, sizeof(base));
	snprintf(n_meta, sizeof(n_meta), "%s-tmeta", base);
	snprintf(n_data, sizeof(n_data), "%s-tdata", base);
	snprintf(n_pool, sizeof(n_pool), "%s-tpool", base);
	snprintf(dmnode, sizeof(dmnode), "/dev/mapper/%s", base);
	dms_uuid_format(l->pool_uuid, uuid);
	snprintf(u_base, sizeof(u_base), DMS_DM_UUID_PREFIX "%s", uuid);
	snprintf(u_meta, sizeof(u_meta), "%s-tmeta", u_base);
	snprintf(u_data, sizeof(u_data), "%s-tdata", u_base);
	snprintf(u_pool, sizeof(u_pool), "%s-tpool", u_base);

	/* Data: the members' data areas, exactly as linear mode. Growing it first
	 * is harmless: the pool only uses the new length once it is reloaded. */
	r = linear_targets(s, a, &t, tg);
	if (r < 0)
		return r;
	r = ensure_dm(l->pool_name, n_data, u_data, tg, t.count, true, &di);
	if (r < 0)
		return r;
	if (r == 2) {
		log_info("pool %s: thin data device reloaded, %u member(s), %llu bytes", l->pool_name,
			 l->member_count, (unsigned long long)sectors_to_bytes(t.total_sectors));
		dms_failpoint("attach:data-reloaded");
	}

	/* Metadata: the active part of the reserved area on member 0. */
	const struct dms_device *m0 = &s->dev[a->member_found[0]];
	mt.start_sectors = 0;
	mt.length_sectors = bytes_to_sectors(l->thin_meta_active_bytes);
	mt.type = "linear";
	snprintf(mt.params, sizeof(mt.params), "%u:%u %llu", major(m0->devnum), minor(m0->devnum),
		 (unsigned long long)bytes_to_sectors(l->thin_meta_offset_bytes));
	r = ensure_dm(l->pool_name, n_meta, u_meta, &mt, 1, true, &mi);
	if (r < 0)
		return r;
	if (r == 2)
		log_info("pool %s: thin metadata device grown to %llu bytes", l->pool_name,
			 (unsigned long long)l->thin_meta_active_bytes);

	/* The pool, over both; a longer table grows it at resume. */
	pt.start_sectors = 0;
	pt.length_sectors = t.total_sectors;
	pt.type = "thin-pool";
	r = dms_thin_pool_params(major(mi.devnum), minor(mi.devnum), major(di.devnum), minor(di.devnum),
				 dms_thin_low_water_blocks(sectors_to_bytes(t.total_sectors), thin_cfg.low_bytes,
							   thin_cfg.low_percent),
				 pt.params, sizeof(pt.params));
	if (r < 0)
		return r;
	r = ensure_dm(l->pool_name, n_pool, u_pool, &pt, 1, true, &pi);
	if (r < 0)
		return r;
	if (r == 1)
		log_info("pool %s: thin pool activated, %u member(s), %llu data bytes, %llu metadata bytes, "
			 "generation %llu", l->pool_name, l->member_count,
			 (unsigned long long)sectors_to_bytes(t.total_sectors),
			 (unsigned long long)l->thin_meta_active_bytes, (unsigned long long)l->generation);
	if (r == 2) {
		log_info("pool %s: thin pool reloaded, %u member(s), now %llu data bytes, generation %llu",
			 l->pool_name, l->member_count, (unsigned long long)sectors_to_bytes(t.total_sectors),
			 (unsigned long long)l->generation);
		dms_failpoint("attach:reloaded");
	}

	/* Never put a filesystem read-write on a pool the kernel distrusts. */
	r = thin_status(l->pool_name, n_pool, &ps);
	if (r < 0)
		return r;
	if (ps.mode == DMS_THIN_FAIL || ps.mode == DMS_THIN_RO || ps.needs_check)
		return log_error_errno(EUCLEAN, "pool %s is degraded: the thin pool is %s%s. The filesystem was "
				       "not activated. To repair: stop writers, 'dmsetup remove %s %s', run "
				       "'thin_check /dev/mapper/%s'; if it reports errors, 'thin_repair -i "
				       "/dev/mapper/%s -o SPARE' onto a spare device of the same size and copy "
				       "it back with dd; then 'thin_check --clear-needs-check-flag "
				       "/dev/mapper/%s' and 'dmscale assemble --name %s'",
				       l->pool_name, dms_thin_mode_name(ps.mode),
				       ps.needs_check ? " and flagged needs_check" : "", base, n_pool, n_meta,
				       n_meta, n_meta, l->pool_name);
	if (ps.transaction_id == 0) {
		/* A new pool: create thin device 0, then mark that done. A crash between
		 * the two leaves the device created and the id 0: create fails, set runs. */
		(void)dms_dm_message(n_pool, "create_thin 0");
		r = dms_dm_message(n_pool, "set_transaction_id 0 1");
		if (r < 0)
			return log_error_errno(EIO, "pool %s: cannot create the thin volume in %s (see dmesg)",
					       l->pool_name, n_pool);
		log_info("pool %s: thin volume created (id %d, %llu virtual bytes)", l->pool_name, DMS_THIN_DEV_ID,
			 (unsigned long long)l->thin_virtual_bytes);
	} else if (ps.transaction_id != DMS_THIN_TRANSACTION_READY) {
		return log_error_errno(EUCLEAN, "pool %s: thin pool transaction id is %llu, expected %d: this "
				       "metadata was changed by something else; refusing to activate",
				       l->pool_name, (unsigned long long)ps.transaction_id,
				       DMS_THIN_TRANSACTION_READY);
	}

	/* The thin volume: the filesystem's device, fixed size, never reloaded. */
	vt.start_sectors = 0;
	vt.length_sectors = bytes_to_sectors(l->thin_virtual_bytes);
	vt.type = "thin";
	r = dms_thin_volume_params(major(pi.devnum), minor(pi.devnum), vt.params, sizeof(vt.params));
	if (r < 0)
		return r;
	r = ensure_dm(l->pool_name, base, u_base, &vt, 1, false, &vi);
	if (r < 0)
		return r;
	if (r == 1)
		log_info("pool %s: activated %s (thin, %llu virtual bytes over %llu data bytes)", l->pool_name,
			 dmnode, (unsigned long long)l->thin_virtual_bytes,
			 (unsigned long long)sectors_to_bytes(t.total_sectors));
	r = mount_and_grow(l, dmnode, vi.devnum, l->thin_virtual_bytes, mountpoint_opt, do_mount);
	if (r < 0)
		return r;
	unpend_members(l);
	return 0;
}

/* Converge the system to the assembly: labels, dm tables, mount, fs size, pending. */
static int reconcile(const struct scan *s, const struct dms_assembly *a, const char *mountpoint_opt, bool do_mount)
{
	int r = finish_labels(s, a);
	if (r < 0)
		return r;
	if (a->label.target == DMS_TARGET_THIN)
		return reconcile_thin(s, a, mountpoint_opt, do_mount);
	return reconcile_linear(s, a, mountpoint_opt, do_mount);
}

static int plan_pool(const struct scan *s, const char *pool, struct dms_assembly *a)
{
	int r = dms_plan_assembly(s->found, s->n, pool, NULL, a);
	if (r == -ENODEV) {
		char list[2048] = "";
		size_t off = 0;
		for (size_t i = 0; i < a->missing_count && off < sizeof(list) - 1; i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", a->missing[i]);
		return log_error_errno(ENODEV, "pool %s (generation %llu) is incomplete: missing %s. Attach the "
				       "missing volume(s); refusing to activate a shorter target under the "
				       "filesystem", pool, (unsigned long long)a->generation, list);
	}
	if (r == -EUCLEAN)
		return log_error_errno(EUCLEAN, "pool %s: member labels at generation %llu disagree (two "
				       "interrupted attaches?); refusing to guess. Inspect the labels of its "
				       "volumes before forcing anything", pool, (unsigned long long)a->generation);
	if (r == -ENOTUNIQ)
		return log_error_errno(ENOTUNIQ, "pool %s: two devices carry the same member label (a cloned or "
				       "snapshot-restored volume?); detach the copy", pool);
	return r;
}

/* Refuse anything that is not a blank, unused, big enough, non-root disk. */
static int check_candidate(struct dms_device *d, bool force)
{
	char what[128];
	int r;

	if ((r = dms_device_is_root_disk(d)) != 0)
		return r < 0 ? r : log_error_errno(EPERM, "%s: this is (or backs) the root filesystem; refusing", d->node);
	if ((r = dms_device_is_mounted(d)) != 0)
		return r < 0 ? r : log_error_errno(EBUSY, "%s: mounted; refusing to touch it", d->node);
	if ((r = dms_device_has_holders(d)) != 0)
		return r < 0 ? r : log_error_errno(EBUSY, "%s: in use by another device (dm/md/LVM holder); refusing",
						   d->node);
	if (d->size_bytes < DMS_MIN_DEVICE_BYTES)
		return log_error_errno(ERANGE, "%s: too small (%llu bytes); dmscale needs at least %llu bytes",
				       d->node, (unsigned long long)d->size_bytes,
				       (unsigned long long)DMS_MIN_DEVICE_BYTES);
	r = dms_probe_signatures(d->node, what, sizeof(what));
	if (r < 0)
		return r;
	if (r == 1 && !force)
		return log_error_errno(EEXIST, "%s: holds %s; refusing to overwrite it. Use --force only if its "
				       "data is disposable", d->node, what);
	r = dms_device_open_excl(d);
	if (r < 0)
		return r;
	dms_device_close(d);
	return 0;
}

static int new_member(const struct dms_device *d, bytes_t reserved_bytes, struct dms_member *m)
{
	memset(m, 0, sizeof(*m));
	if (getrandom(m->uuid, sizeof(m->uuid), 0) != sizeof(m->uuid))
		return log_error_errno(errno, "getrandom: %m");
	m->uuid[6] = (uint8_t)((m->uuid[6] & 0x0f) | 0x40);
	m->uuid[8] = (uint8_t)((m->uuid[8] & 0x3f) | 0x80);
	snprintf(m->volume_id, sizeof(m->volume_id), "%s", d->volume_id);
	int r = dms_member_layout(d->size_bytes, reserved_bytes, m);
	if (r < 0)
		return log_error_errno(r, "%s: cannot lay out a member on %llu bytes: %m", d->node,
				       (unsigned long long)d->size_bytes);
	return 0;
}

static int setup_kernel(void)
{
	return dms_kmod_ensure("dm_mod");
}

static struct scan *scan_new(void)
{
	struct scan *s = calloc(1, sizeof(*s));
	if (!s)
		log_error("out of memory");
	return s;
}

/* Find this device in a scan. */
static ssize_t scan_find(const struct scan *s, dev_t devnum)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->dev[i].devnum == devnum)
			return (ssize_t)i;
	return -1;
}

/* ---- commands ----------------------------------------------------------- */

static int assemble_one(const char *pool, const char *mountpoint, bool do_mount)
{
	int lock = dms_pool_lock(pool);
	if (lock < 0)
		return lock;
	struct scan *s = scan_new();
	struct dms_assembly *a = calloc(1, sizeof(*a));
	int r = -ENOMEM;
	if (!s || !a)
		goto out;
	r = scan_labels(s);
	if (r < 0)
		goto out;
	r = plan_pool(s, pool, a);
	if (r == -ENOENT) {
		r = log_error_errno(ENOENT, "pool %s: no member found on this system", pool);
		goto out;
	}
	if (r < 0)
		goto out;
	r = reconcile(s, a, mountpoint, do_mount);
out:
	free(a);
	free(s);
	dms_pool_unlock(lock);
	return r;
}

int dms_cmd_init(const struct dms_opts *o, const char *device)
{
	struct dms_device d;
	struct dms_label cur;
	unsigned ok;
	int r;

	thin_cfg_from(o);
	if (!valid_pool_name(o->name))
		return log_error_errno(EINVAL, "invalid pool name '%s': use 1-%d of [A-Za-z0-9_.-]", o->name,
				       DMS_POOL_NAME_MAX - 1);
	if (!dms_fs_type_supported(o->fstype))
		return log_error_errno(EINVAL, "unsupported filesystem '%s': use ext4, xfs or btrfs", o->fstype);
	if ((r = setup_kernel()) < 0)
		return r;
	if ((r = dms_device_inspect(device, &d)) < 0)
		return r;
	r = dms_device_read_label(&d, &cur, &ok);
	if (r == 0) {
		if (strcmp(cur.pool_name, o->name) && !o->force)
			return log_error_errno(EEXIST, "%s: member %u of another pool, '%s'; refusing. Use "
					       "--name %s to assemble it", device, cur.member_index, cur.pool_name,
					       cur.pool_name);
		if (!strcmp(cur.pool_name, o->name)) {
			log_info("%s: already member %u of pool %s (generation %llu): reassembling, not formatting",
				 device, cur.member_index, cur.pool_name, (unsigned long long)cur.generation);
			return assemble_one(o->name, o->mountpoint, true);
		}
	} else if (r != -ENODATA && !o->force) {
		return log_error_errno(r, "%s: holds a damaged dmscale label; refusing (use --force to overwrite)",
				       device);
	}

	int lock = dms_pool_lock(o->name);
	if (lock < 0)
		return lock;
	char dmname[128];
	struct dms_dm_info info;
	dm_name(o->name, dmname, sizeof(dmname));
	r = dms_dm_info(dmname, &info);
	if (r < 0)
		goto out;
	if (info.exists) {
		r = log_error_errno(EEXIST, "pool %s is already active as /dev/mapper/%s and %s is not a member; "
				    "use 'dmscale attach %s' to add it", o->name, dmname, device, device);
		goto out;
	}
	r = check_candidate(&d, o->force);
	if (r < 0)
		goto out;

	struct dms_label *l = calloc(1, sizeof(*l));
	if (!l) {
		r = -ENOMEM;
		goto out;
	}
	l->version = DMS_LABEL_VERSION;
	l->generation = 1;
	l->target = o->target == DMS_TARGET_THIN ? DMS_TARGET_THIN : DMS_TARGET_LINEAR;
	l->created_unix = (uint64_t)time(NULL);
	snprintf(l->pool_name, sizeof(l->pool_name), "%s", o->name);
	snprintf(l->fs_type, sizeof(l->fs_type), "%s", o->fstype);
	if (getrandom(l->pool_uuid, sizeof(l->pool_uuid), 0) != sizeof(l->pool_uuid)) {
		r = log_error_errno(errno, "getrandom: %m");
		goto free_out;
	}
	l->pool_uuid[6] = (uint8_t)((l->pool_uuid[6] & 0x0f) | 0x40);
	l->pool_uuid[8] = (uint8_t)((l->pool_uuid[8] & 0x3f) | 0x80);
	l->member_count = 1;
	bytes_t meta_reserve = 0;
	if (l->target == DMS_TARGET_THIN) {
		bytes_t max_data = o->max_data_bytes ? o->max_data_bytes : DMS_THIN_DEFAULT_VIRTUAL;
		r = dms_thin_meta_reserve(d.size_bytes, max_data, &meta_reserve);
		if (r < 0) {
			r = log_error_errno(ERANGE, "%s: too small for a thin pool's metadata area (%llu bytes)",
					    device, (unsigned long long)d.size_bytes);
			goto free_out;
		}
	}
	r = new_member(&d, meta_reserve, &l->members[0]);
	if (r < 0)
		goto free_out;
	memcpy(l->member_uuid, l->members[0].uuid, 16);
	l->member_index = 0;
	if (l->target == DMS_TARGET_THIN) {
		bytes_t virt = o->virtual_bytes ? o->virtual_bytes
			       : o->max_data_bytes ? o->max_data_bytes : DMS_THIN_DEFAULT_VIRTUAL;
		l->thin_meta_offset_bytes = DMS_DATA_OFFSET_BYTES;
		l->thin_meta_bytes = meta_reserve;
		l->thin_meta_active_bytes = dms_thin_meta_active_for(l->members[0].data_bytes, meta_reserve, 0);
		l->thin_virtual_bytes = align_down(virt, MIB);
		if (l->thin_virtual_bytes < l->members[0].data_bytes)
			log_warning("pool %s: the thin volume (%llu bytes) is smaller than the first member's data "
				    "area (%llu bytes); it can never use more", o->name,
				    (unsigned long long)l->thin_virtual_bytes,
				    (unsigned long long)l->members[0].data_bytes);
		/* A zeroed superblock makes the kernel format fresh metadata; zero it
		 * before the label exists, so an interrupted init never activates a
		 * pool over stale bytes of a --force'd device. */
		r = dms_device_zero(&d, l->thin_meta_offset_bytes, MIB);
		if (r < 0)
			goto free_out;
		log_info("%s: thin pool layout: %llu metadata bytes reserved (%llu in use), %llu data bytes, "
			 "%llu virtual bytes, %llu KiB blocks", device, (unsigned long long)meta_reserve,
			 (unsigned long long)l->thin_meta_active_bytes, (unsigned long long)l->members[0].data_bytes,
			 (unsigned long long)l->thin_virtual_bytes,
			 (unsigned long long)(DMS_THIN_BLOCK_BYTES / KIB));
	}
	r = dms_device_write_label(&d, l);
	if (r < 0)
		goto free_out;
	log_info("%s (%s): labelled as member 0 of new pool %s, %llu data bytes", device,
		 d.volume_id[0] ? d.volume_id : "-", o->name, (unsigned long long)l->members[0].data_bytes);
	dms_failpoint("init:labelled");
	if (o->mountpoint)
		save_mountpoint(o->name, o->mountpoint);
	free(l);
	dms_pool_unlock(lock);
	/* Activation, mkfs and mount are the same path as a reboot's reassembly. */
	return assemble_one(o->name, o->mountpoint, true);
free_out:
	free(l);
out:
	dms_pool_unlock(lock);
	return r;
}

/* Is devnum a dependency of the pool's live data table (dmscale-N or, for a
 * thin pool, dmscale-N-tdata)? Checked under the pool lock so that a running
 * assembly finishes first. */
static bool member_in_live_table(const char *pool, dev_t devnum)
{
	char name[160];
	dev_t deps[DMS_MAX_MEMBERS];
	size_t n = 0;
	bool found = false;
	int lock = dms_pool_lock(pool);
	if (lock < 0)
		return false;
	int saved = log_get_level();
	log_set_level(LOG_LVL_ERR - 1);
	struct dms_dm_info info;
	snprintf(name, sizeof(name), "dmscale-%s-tdata", pool);         /* thin: the data table */
	if (dms_dm_info(name, &info) < 0 || !info.exists)
		snprintf(name, sizeof(name), "dmscale-%s", pool);        /* linear */
	if (dms_dm_info(name, &info) == 0 && info.exists && dms_dm_deps(name, deps, DMS_MAX_MEMBERS, &n) == 0)
		for (size_t i = 0; i < n; i++)
			found |= deps[i] == devnum;
	log_set_level(saved);
	dms_pool_unlock(lock);
	return found;
}

/* Which pool expects this volume id (the daemon's pending lists)? */
static int find_pending_pool(const char *volume_id, char *pool, size_t len)
{
	const char *base = getenv("DMSCALE_STATE_DIR");
	if (!base || !*base)
		base = DMS_STATE_DIR;
	DIR *dir = opendir(base);
	if (!dir)
		return 0;
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(dir))) {
		if (de->d_name[0] == '.' || !valid_pool_name(de->d_name))
			continue;
		if (dms_pending_contains(NULL, de->d_name, volume_id) == 1) {
			snprintf(pool, len, "%s", de->d_name);
			found = 1;
		}
	}
	closedir(dir);
	return found;
}

int dms_cmd_attach(const struct dms_opts *o, const char *device)
{
	struct dms_device d;
	struct dms_label cur;
	unsigned ok;
	char pool[256];
	int r;

	thin_cfg_from(o);
	if ((r = setup_kernel()) < 0)
		return r;
	if ((r = dms_device_inspect(device, &d)) < 0)
		return o->udev ? 0 : r;   /* udev: the device may already be gone */
	r = dms_device_read_label(&d, &cur, &ok);
	if (r == 0) {
		/* Already a member of some pool: converge that pool (finishes an
		 * interrupted attach; a device already in the pool changes nothing). */
		if (!o->udev && strcmp(cur.pool_name, o->name))
			return log_error_errno(EEXIST, "%s: member of another pool, '%s'; refusing", device,
					       cur.pool_name);
		log_info("%s: carries a label of pool %s (member %u, generation %llu)", device, cur.pool_name,
			 cur.member_index, (unsigned long long)cur.generation);
		if (o->udev && member_in_live_table(cur.pool_name, d.devnum)) {
			/* Boot: every member's coldplug event lands here once the pool is
			 * assembled; a full scan each would make boot O(members^2). */
			log_info("pool %s: %s is already in the live table; nothing to do", cur.pool_name, device);
			return 0;
		}
		r = assemble_one(cur.pool_name, NULL, true);
		if (r == -ENODEV && o->udev) {
			log_info("pool %s: waiting for its other members", cur.pool_name);
			return 0;
		}
		return r;
	}
	if (r != -ENODATA && !o->force)
		return log_error_errno(r, "%s: holds a damaged dmscale label; refusing (repair or --force)", device);

	if (o->udev) {
		if (!d.volume_id[0] || !find_pending_pool(d.volume_id, pool, sizeof(pool))) {
			log_debug("%s: not expected by any pool; leaving it alone", device);
			return 0;
		}
		log_info("%s: volume %s is pending for pool %s: claiming it", device, d.volume_id, pool);
	} else {
		snprintf(pool, sizeof(pool), "%s", o->name);
	}

	int lock = dms_pool_lock(pool);
	if (lock < 0)
		return lock;
	/* The daemon may have given up on the volume meanwhile (it unpends under this lock). */
	if (o->udev && dms_pending_contains(NULL, pool, d.volume_id) != 1) {
		log_info("%s: volume %s is no longer pending for pool %s; leaving it alone", device, d.volume_id, pool);
		dms_pool_unlock(lock);
		return 0;
	}
	struct scan *s = scan_new();
	struct dms_assembly *a = calloc(1, sizeof(*a));
	struct dms_label *next = calloc(1, sizeof(*next));
	r = -ENOMEM;
	if (!s || !a || !next)
		goto out;
	r = scan_labels(s);
	if (r < 0)
		goto out;
	r = plan_pool(s, pool, a);
	if (r == -ENOENT) {
		r = log_error_errno(ENOENT, "pool %s does not exist on this system; create it with 'dmscale init'",
				    pool);
		goto out;
	}
	if (r < 0)
		goto out;
	if (scan_find(s, d.devnum) >= 0) {      /* labelled meanwhile by a concurrent attach */
		r = 0;
		goto out;
	}
	r = check_candidate(&d, o->force);
	if (r < 0)
		goto out;
	struct dms_member m;
	r = new_member(&d, 0, &m);
	if (r < 0)
		goto out;
	r = dms_plan_append(&a->label, &m, next);
	if (r < 0) {
		r = log_error_errno(r, "pool %s: cannot add another member (limit %d): %m", pool, DMS_MAX_MEMBERS);
		goto out;
	}
	if (next->target == DMS_TARGET_THIN)   /* metadata sized for the larger pool */
		next->thin_meta_active_bytes = dms_thin_meta_active_for(dms_label_data_bytes(next),
									next->thin_meta_bytes,
									next->thin_meta_active_bytes);
	/* Crash-safe order: the new member's label first (a crash here leaves the old
	 * generation on every old member: the pool assembles as before, and the
	 * new member's newer label completes it when present), then the old members,
	 * then the table, then the filesystem. */
	struct dms_label ml;
	dms_label_for_member(next, next->member_count - 1, &ml);
	r = dms_device_write_label(&d, &ml);
	if (r < 0)
		goto out;
	log_info("%s (%s): labelled as member %u of pool %s, generation %llu, %llu data bytes", device,
		 d.volume_id[0] ? d.volume_id : "-", ml.member_index, pool, (unsigned long long)next->generation,
		 (unsigned long long)m.data_bytes);
	dms_failpoint("attach:new-labelled");
	/* Rescan-free: the assembly for `next` is the old one plus this device. */
	s->dev[s->n] = d;
	s->found[s->n].devnode = s->dev[s->n].node;
	s->found[s->n].label = ml;
	a->member_found[next->member_count - 1] = s->n;
	s->n++;
	a->label = *next;
	a->generation = next->generation;
	for (uint32_t i = 0; i + 1 < next->member_count; i++) {
		struct dms_label ol;
		dms_label_for_member(next, i, &ol);
		r = dms_device_write_label(&s->dev[a->member_found[i]], &ol);
		if (r < 0)
			goto out;
		a->stale[i] = 0;
		a->repair[i] = 0;
		if (i == 0)
			dms_failpoint("attach:first-old-labelled");
	}
	a->stale[next->member_count - 1] = 0;
	dms_failpoint("attach:all-labelled");
	r = reconcile(s, a, NULL, false);
out:
	free(next);
	free(a);
	free(s);
	dms_pool_unlock(lock);
	return r;
}

int dms_pool_thin_grow_metadata(const char *pool)
{
	int lock = dms_pool_lock(pool);
	if (lock < 0)
		return lock;
	struct scan *s = scan_new();
	struct dms_assembly *a = calloc(1, sizeof(*a));
	int r = -ENOMEM;
	if (!s || !a)
		goto out;
	r = scan_labels(s);
	if (r < 0)
		goto out;
	r = plan_pool(s, pool, a);
	if (r < 0)
		goto out;
	struct dms_label *l = &a->label;
	if (l->target != DMS_TARGET_THIN) {
		r = -EINVAL;
		goto out;
	}
	bytes_t next = dms_thin_meta_grow(l->thin_meta_active_bytes, l->thin_meta_bytes);
	if (next == l->thin_meta_active_bytes) {
		r = log_error_errno(ENOSPC, "pool %s: thin metadata is running full and already uses its whole "
				    "reserved area (%llu bytes); stop adding data or the pool will go read-only",
				    pool, (unsigned long long)l->thin_meta_bytes);
		goto out;
	}
	log_info("pool %s: growing the thin metadata device %llu -> %llu bytes (generation %llu)", pool,
		 (unsigned long long)l->thin_meta_active_bytes, (unsigned long long)next,
		 (unsigned long long)l->generation + 1);
	l->thin_meta_active_bytes = next;
	l->generation++;
	a->generation = l->generation;
	/* Any subset of labels at the new generation assembles to it (the member
	 * list is unchanged), so the order does not matter for crash safety. */
	for (uint32_t i = 0; i < l->member_count; i++) {
		struct dms_label ml;
		dms_label_for_member(l, i, &ml);
		r = dms_device_write_label(&s->dev[a->member_found[i]], &ml);
		if (r < 0)
			goto out;
		a->stale[i] = 0;
		a->repair[i] = 0;
	}
	r = reconcile(s, a, NULL, false);
out:
	free(a);
	free(s);
	dms_pool_unlock(lock);
	return r;
}

int dms_cmd_assemble(const struct dms_opts *o)
{
	thin_cfg_from(o);
	if (setup_kernel() < 0)
		return -ENOENT;
	if (!o->all)
		return assemble_one(o->name, o->mountpoint, true);
	/* Every pool seen in any label. */
	struct scan *s = scan_new();
	if (!s)
		return -ENOMEM;
	int r = scan_labels(s), ret = 0;
	char names[MAX_SCAN][DMS_POOL_NAME_MAX];
	size_t nn = 0;
	for (size_t i = 0; r == 0 && i < s->n; i++) {
		size_t j;
		for (j = 0; j < nn && strcmp(names[j], s->found[i].label.pool_name); j++)
			;
		if (j == nn)
			snprintf(names[nn++], DMS_POOL_NAME_MAX, "%s", s->found[i].label.pool_name);
	}
	free(s);
	if (r < 0)
		return r;
	if (nn == 0)
		log_info("no dmscale pool found on this system");
	for (size_t j = 0; j < nn; j++) {
		int q = assemble_one(names[j], NULL, true);
		if (q < 0 && !ret)
			ret = q;
	}
	return ret;
}

int dms_cmd_status(const struct dms_opts *o)
{
	struct dms_status *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	int r = dms_status_collect(o->name, st);
	if (r >= 0)
		r = o->json ? dms_status_print_json(st, stdout)
		    : o->prometheus ? dms_status_print_prometheus(st, stdout)
		    : dms_status_print_table(st, stdout);
	dms_status_release(st);
	free(st);
	return r;
}

/* Used by status: read labels when privileged. */
int dms_pool_scan_assembly(const char *pool, struct dms_assembly *a, char nodes[][256])
{
	struct scan *s = scan_new();
	if (!s)
		return -ENOMEM;
	int saved = log_get_level();
	log_set_level(LOG_LVL_ERR - 1);
	int r = scan_labels(s);
	if (r == 0)
		r = dms_plan_assembly(s->found, s->n, pool, NULL, a);
	log_set_level(saved);
	if (r == 0 || r == -ENODEV)
		for (uint32_t i = 0; i < a->label.member_count; i++)
			snprintf(nodes[i], 256, "%s",
				 a->member_found[i] != SIZE_MAX ? s->dev[a->member_found[i]].node : "");
	free(s);
	return r;
}
