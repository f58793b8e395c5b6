/* /proc/meminfo parsing: the page cache that a syncfs may have to write (pure,
 * no syscalls; fs.c reads the file). Lines look like "Dirty:   1234 kB". */
#include "dmscale/meminfo.h"

#include <errno.h>
#include <string.h>

#include "dmscale/units.h"

/* The kB value of field `name` ("Dirty:"), or -EINVAL / -ERANGE. */
static int field_kib(const char *text, size_t len, const char *name, uint64_t *kib)
{
	const size_t nlen = strlen(name);
	for (size_t at = 0; at < len;) {
		const char *line = text + at;
		const char *nl = memchr(line, '\n', len - at);
		size_t llen = nl ? (size_t)(nl - line) : len - at;
		at += llen + 1;
		if (llen < nlen || memcmp(line, name, nlen))
			continue;
		size_t i = nlen;
		while (i < llen && line[i] == ' ')
			i++;
		if (i == llen || line[i] < '0' || line[i] > '9')
			return -EINVAL;
		uint64_t v = 0;
		for (; i < llen && line[i] >= '0' && line[i] <= '9'; i++) {
			if (v > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			v = v * 10 + (uint64_t)(line[i] - '0');
		}
		if (llen - i != 3 || memcmp(line + i, " kB", 3))
			return -EINVAL;
		*kib = v;
		return 0;
	}
	return -EINVAL;
}

int dms_meminfo_dirty_bytes(const char *text, size_t len, uint64_t *bytes)
{
	uint64_t dirty = 0, writeback = 0;
	int r = field_kib(text, len, "Dirty:", &dirty);
	if (r == 0)
		r = field_kib(text, len, "Writeback:", &writeback);
	if (r < 0)
		return r;
	if (dirty > UINT64_MAX / KIB - writeback)
		return -ERANGE;
	*bytes = (dirty + writeback) * KIB;
	return 0;
}
