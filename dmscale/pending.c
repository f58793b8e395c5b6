/* The pending list (see pending.h): pure parse/format + atomic file update. */
#include "dmscale/pending.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmscale/atomicfile.h"
#include "dmscale/log.h"

static int valid_volume_id(const char *s, size_t len)
{
	if (len < 5 || len >= DMS_VOLUME_ID_MAX || strncmp(s, "vol-", 4))
		return 0;
	for (size_t i = 4; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int dms_pending_parse(const char *text, size_t len, struct dms_pending *p)
{
	memset(p, 0, sizeof(*p));
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && text[j] != '\n')
			j++;
		size_t l = j - i;
		while (l && (text[i + l - 1] == ' ' || text[i + l - 1] == '\r'))
			l--;
		if (l) {
			if (!valid_volume_id(text + i, l))
				return -EINVAL;
			if (p->count >= DMS_MAX_MEMBERS)
				return -E2BIG;
			memcpy(p->ids[p->count], text + i, l);
			p->ids[p->count][l] = '\0';
			p->count++;
		}
		i = j + 1;
	}
	return 0;
}

int dms_pending_format(const struct dms_pending *p, char *out, size_t outlen)
{
	size_t off = 0;
	if (outlen)
		out[0] = '\0';
	for (size_t i = 0; i < p->count; i++) {
		int n = snprintf(out + off, outlen - off, "%s\n", p->ids[i]);
		if (n < 0 || (size_t)n >= outlen - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	return (int)off;
}

static const char *state_dir_or_default(const char *d)
{
	if (d)
		return d;
	const char *e = getenv("DMSCALE_STATE_DIR");
	return e && *e ? e : DMS_STATE_DIR;
}

static int pool_dir(const char *state_dir, const char *pool, char *out, size_t outlen, int create)
{
	const char *base = state_dir_or_default(state_dir);
	if (snprintf(out, outlen, "%s/%s", base, pool) >= (int)outlen)
		return -ENAMETOOLONG;
	if (create) {
		if (mkdir(base, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (mkdir(out, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int read_file(const char *path, char *buf, size_t buflen, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ssize_t n;
	while ((n = read(fd, buf + *len, buflen - *len)) > 0)
		*len += (size_t)n;
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (!err && *len == buflen)
		err = -EFBIG;
	return err;
}

int dms_pending_load(const char *state_dir, const char *pool, struct dms_pending *p)
{
	char dir[512], path[600], buf[DMS_MAX_MEMBERS * DMS_VOLUME_ID_MAX + 1];
	size_t len;
	p->count = 0;
	int r = pool_dir(state_dir, pool, dir, sizeof(dir), 0);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/pending", dir);
	r = read_file(path, buf, sizeof(buf), &len);
	if (r < 0)
		return log_error_errno(r, "%s: cannot read the pending list: %m", path);
	r = dms_pending_parse(buf, len, p);
	if (r < 0)
		return log_error_errno(r, "%s: malformed pending list (one vol-… id per line expected); "
				       "fix or remove the file", path);
	return 0;
}

static int pending_update(const char *state_dir, const char *pool, const char *volume_id, int add)
{
	char dir[512], path[600], lockp[620], text[DMS_MAX_MEMBERS * DMS_VOLUME_ID_MAX + 1];
	struct dms_pending p;
	int r, lockfd;

	if (!valid_volume_id(volume_id, strlen(volume_id)))
		return log_error_errno(EINVAL, "'%s' is not an EBS volume id (vol-…)", volume_id);
	r = pool_dir(state_dir, pool, dir, sizeof(dir), 1);
	if (r < 0)
		return log_error_errno(r, "%s: cannot create the state directory: %m", dir);
	snprintf(lockp, sizeof(lockp), "%s/pending.lock", dir);
	lockfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lockfd < 0)
		return log_error_errno(errno, "%s: %m", lockp);
	if (flock(lockfd, LOCK_EX) < 0) {
		r = log_error_errno(errno, "%s: lock: %m", lockp);
		goto out;
	}
	r = dms_pending_load(state_dir, pool, &p);
	if (r < 0)
		goto out;
	size_t i;
	for (i = 0; i < p.count && strcmp(p.ids[i], volume_id); i++)
		;
	if (add && i == p.count) {
		if (p.count >= DMS_MAX_MEMBERS) {
			r = log_error_errno(E2BIG, "pending list of pool %s is full", pool);
			goto out;
		}
		snprintf(p.ids[p.count++], DMS_VOLUME_ID_MAX, "%s", volume_id);
	} else if (!add && i < p.count) {
		memmove(p.ids[i], p.ids[i + 1], (p.count - i - 1) * sizeof(p.ids[0]));
		p.count--;
	} else {
		r = 0;
		goto out;
	}
	int len = dms_pending_format(&p, text, sizeof(text));
	if (len < 0) {
		r = len;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/pending", dir);
	r = dms_atomic_write(path, text, (size_t)len, 0644);
	if (r < 0)
		log_error_errno(r, "%s: the pending list was not updated: %m", path);
out:
	close(lockfd);
	return r;
}

int dms_pending_add(const char *state_dir, const char *pool, const char *volume_id)
{
	return pending_update(state_dir, pool, volume_id, 1);
}

int dms_pending_remove(const char *state_dir, const char *pool, const char *volume_id)
{
	return pending_update(state_dir, pool, volume_id, 0);
}

int dms_pending_contains(const char *state_dir, const char *pool, const char *volume_id)
{
	struct dms_pending p;
	int r = dms_pending_load(state_dir, pool, &p);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p.count; i++)
		if (!strcmp(p.ids[i], volume_id))
			return 1;
	return 0;
}
