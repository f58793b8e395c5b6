/* Devices with an I/O stuck past its deadline, shared between processes (see stuck.h). */
#include "dmscale/stuck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dmscale/log.h"

static char stuck_dir[256] = DMS_STUCK_DIR;

void dms_stuck_set_dir(const char *dir)
{
	snprintf(stuck_dir, sizeof(stuck_dir), "%s", dir ? dir : DMS_STUCK_DIR);
}

void dms_stuck_key(const struct stat *st, dev_t *dev, ino_t *ino)
{
	*dev = S_ISBLK(st->st_mode) ? st->st_rdev : st->st_dev;
	*ino = S_ISBLK(st->st_mode) ? 0 : st->st_ino;
}

static void marker_path(dev_t dev, ino_t ino, char *out, size_t len)
{
	snprintf(out, len, "%s/%u:%u-%" PRIu64, stuck_dir, major(dev), minor(dev), (uint64_t)ino);
}

/* The start time of pid (clock ticks since boot, /proc/PID/stat field 22): it
 * tells a live owner from a later process that reused its pid. 0: no such
 * process, or a zombie (it has exited, so its requests have completed). */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after the command name, which may hold spaces and parentheses */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	unsigned long long t = 0;
	for (int field = 2; *p; p++)
		if (*p == ' ' && ++field == 22) {
			t = strtoull(p + 1, NULL, 10);
			break;
		}
	return t;
}

void dms_stuck_mark(dev_t dev, ino_t ino)
{
	char path[320], tmp[340], line[64];
	const pid_t self = getpid();
	int n = snprintf(line, sizeof(line), "%d %llu\n", (int)self, start_time(self));
	marker_path(dev, ino, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)self);
	char parent[256];
	snprintf(parent, sizeof(parent), "%s", stuck_dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		(void)mkdir(parent, 0755);
	}
	(void)mkdir(stuck_dir, 0755);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n || rename(tmp, path) < 0) {
		log_debug("%s: cannot leave a stuck-device marker: %m", path);
		(void)unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
}

/* The marker's owner, or 0 when there is none (or it is unreadable); *t its
 * start time, *written (unless NULL) when the marker was written. */
static pid_t read_owner(const char *path, unsigned long long *t, time_t *written)
{
	char line[64];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (written)
		*written = fstat(fd, &st) == 0 ? st.st_mtime : 0;
	ssize_t n = read(fd, line, sizeof(line) - 1);
	close(fd);
	int pid = 0;
	if (n <= 0)
		return 0;
	line[n] = '\0';
	if (sscanf(line, "%d %llu", &pid, t) != 2 || pid <= 0)
		return 0;
	return (pid_t)pid;
}

void dms_stuck_clear(dev_t dev, ino_t ino)
{
	char path[320];
	unsigned long long t;
	marker_path(dev, ino, path, sizeof(path));
	if (read_owner(path, &t, NULL) == getpid())
		(void)unlink(path);
}

pid_t dms_stuck_owner(dev_t dev, ino_t ino, time_t *since_unix)
{
	char path[320];
	unsigned long long t = 0;
	marker_path(dev, ino, path, sizeof(path));
	pid_t pid = read_owner(path, &t, since_unix);
	if (pid <= 0 || pid == getpid())
		return 0;
	if (start_time(pid) == t && t != 0)
		return pid;
	(void)unlink(path);     /* its owner is gone, and so is its request */
	return 0;
}

bool dms_stuck_any(void)
{
	DIR *d = opendir(stuck_dir);
	if (!d)
		return errno != ENOENT;         /* unreadable: ask per device */
	bool any = false;
	const struct dirent *e;
	while (!any && (e = readdir(d)))
		any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return any;
}
