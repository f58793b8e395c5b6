/* The mount table through libmount: no line-length limit, no signed numbers,
 * and the kernel's escapes decoded the way util-linux decodes them. */
#include "dmscale/mountinfo.h"

#include <errno.h>
#include <libmount/libmount.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "dmscale/log.h"

#define PROC_MOUNTINFO "/proc/self/mountinfo"

/* A malformed line is skipped (libmount's default would be to give up). */
static int skip_bad_line(struct libmnt_table *tb, const char *filename, int line)
{
	(void)tb;
	log_warning("%s:%d: malformed mount table line ignored", filename ? filename : "?", line);
	return 1;
}

int dms_mountinfo_foreach(const char *path, dms_mount_fn fn, void *userdata)
{
	const char *p = path ? path : PROC_MOUNTINFO;
	struct libmnt_table *tb = mnt_new_table();
	if (!tb)
		return log_error_errno(ENOMEM, "out of memory");
	mnt_table_set_parser_errcb(tb, skip_bad_line);
	int r = mnt_table_parse_file(tb, p);
	if (r < 0) {
		r = log_error_errno(r == -1 ? EIO : -r, "%s: cannot read the mount table: %m", p);
		goto out;
	}
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	if (!it) {
		r = log_error_errno(ENOMEM, "out of memory");
		goto out;
	}
	struct libmnt_fs *fs;
	r = 0;
	while (!r && mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *src = mnt_fs_get_source(fs), *type = mnt_fs_get_fstype(fs);
		const char *root = mnt_fs_get_root(fs), *target = mnt_fs_get_target(fs);
		struct dms_mount_entry m = {
			.devnum = mnt_fs_get_devno(fs),
			.target = target ? target : "",
			.source = src ? src : "",
			.fstype = type ? type : "",
			.root = root ? root : "",
		};
		r = fn(&m, userdata);
	}
	mnt_free_iter(it);
out:
	mnt_unref_table(tb);
	return r;
}

struct find_ctx {
	dev_t devnum;
	char real[PATH_MAX];       /* what /dev/block/MAJ:MIN resolves to, or "" */
	char *mp;
	size_t mplen;
};

static int match_devnum(const struct dms_mount_entry *m, void *userdata)
{
	struct find_ctx *c = userdata;
	int match = m->devnum == c->devnum;
	if (!match && c->real[0] && m->source[0] == '/') {
		char real[PATH_MAX];
		match = realpath(m->source, real) && !strcmp(real, c->real);
	}
	if (!match)
		return 0;
	if (snprintf(c->mp, c->mplen, "%s", m->target) >= (int)c->mplen)
		return -ENAMETOOLONG;
	return 1;
}

int dms_mountinfo_find_devnum(const char *path, dev_t devnum, char *mp, size_t mplen)
{
	struct find_ctx c = { .devnum = devnum, .mp = mp, .mplen = mplen };
	char node[64];
	snprintf(node, sizeof(node), "/dev/block/%u:%u", major(devnum), minor(devnum));
	if (!realpath(node, c.real))
		c.real[0] = '\0';
	return dms_mountinfo_foreach(path, match_devnum, &c);
}

struct target_ctx {
	const char *target;
	int found;
	dev_t devnum;
	char *source;
	size_t source_len;
	int err;
};

static int match_target(const struct dms_mount_entry *m, void *userdata)
{
	struct target_ctx *c = userdata;
	if (strcmp(m->target, c->target))
		return 0;
	c->found = 1;                 /* keep going: a later mount stacks on top */
	c->devnum = m->devnum;
	c->err = 0;
	if (c->source_len && snprintf(c->source, c->source_len, "%s", m->source) >= (int)c->source_len)
		c->err = -ENAMETOOLONG;
	return 0;
}

int dms_mountinfo_find_target(const char *path, const char *target, dev_t *devnum, char *source,
			      size_t source_len)
{
	char real[PATH_MAX];
	struct target_ctx c = { .target = realpath(target, real) ? real : target, .source = source,
				.source_len = source_len };
	int r = dms_mountinfo_foreach(path, match_target, &c);
	if (r < 0)
		return r;
	if (c.err < 0)
		return c.err;
	if (c.found && devnum)
		*devnum = c.devnum;
	return c.found;
}
