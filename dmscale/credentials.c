/* systemd credentials (see credentials.h). */
#include "dmscale/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dms_credential_read(const char *dir, const char *name, char *out, size_t outlen)
{
	char path[4096];
	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (!dir)
		dir = getenv("CREDENTIALS_DIRECTORY");
	if (!dir || !*dir)
		return -ENOENT;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	size_t len = 0;
	ssize_t n;
	int r = 0;
	while (len < outlen && (n = read(fd, out + len, outlen - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (!r && len == outlen)
		r = -E2BIG;
	if (!r && len && out[len - 1] == '\n')
		len--;
	if (!r && len && out[len - 1] == '\r')
		len--;
	if (!r && (memchr(out, '\0', len) || memchr(out, '\n', len)))
		r = -EINVAL;
	if (r < 0) {
		explicit_bzero(out, outlen);
		return r;
	}
	out[len] = '\0';
	return 0;
}

#define CACHE_SLOTS 8

static struct {
	char name[64];
	char value[DMS_CREDENTIAL_MAX];
} cache[CACHE_SLOTS];

const char *dms_credential_getenv(const char *name)
{
	const char *v = getenv(name);
	if (v && *v)
		return v;
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		if (!strcmp(cache[i].name, name))
			return cache[i].value;
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		if (cache[i].name[0])
			continue;
		if (strlen(name) >= sizeof(cache[i].name) ||
		    dms_credential_read(NULL, name, cache[i].value, sizeof(cache[i].value)) < 0)
			return NULL;
		snprintf(cache[i].name, sizeof(cache[i].name), "%s", name);
		return cache[i].value;
	}
	return NULL;
}

void dms_credential_wipe(void)
{
	explicit_bzero(cache, sizeof(cache));
}
