/* EBS volume ids from NVMe identify data (serial vol… -> vol-…) and device names (xvdba, sdf). */
#include "dmscale/ebsname.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int dms_ebs_identify_devname(const uint8_t *id, size_t len, char *out, size_t outlen)
{
	if (len < EBS_VS_DEVNAME_OFFSET + EBS_VS_DEVNAME_BYTES)
		return -EMSGSIZE;
	uint16_t vid = (uint16_t)(id[0] | id[1] << 8);
	if (vid != EBS_NVME_VID)
		return -ENODATA;
	/* model number: bytes 24..63, ASCII, space padded */
	if (memcmp(id + 24, EBS_NVME_MODEL, strlen(EBS_NVME_MODEL)))
		return -ENODATA;
	char name[EBS_VS_DEVNAME_BYTES + 1];
	memcpy(name, id + EBS_VS_DEVNAME_OFFSET, EBS_VS_DEVNAME_BYTES);
	name[EBS_VS_DEVNAME_BYTES] = '\0';
	size_t n = strnlen(name, EBS_VS_DEVNAME_BYTES);
	while (n && (name[n - 1] == ' ' || name[n - 1] == '\0'))
		n--;
	name[n] = '\0';
	const char *base = strncmp(name, "/dev/", 5) ? name : name + 5;
	if (!*base)
		return -EBADMSG;
	for (const char *p = base; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return -EBADMSG;
	if ((size_t)snprintf(out, outlen, "/dev/%s", base) >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

/* "xvdba" -> "ba", "sdf" -> "f"; NULL if neither form. */
static const char *suffix(const char *name)
{
	if (!strncmp(name, "/dev/", 5))
		name += 5;
	if (!strncmp(name, "xvd", 3))
		return name + 3;
	if (!strncmp(name, "sd", 2))
		return name + 2;
	return NULL;
}

int dms_ebs_name_matches(const char *requested, const char *attached)
{
	const char *a = strncmp(requested, "/dev/", 5) ? requested : requested + 5;
	const char *b = strncmp(attached, "/dev/", 5) ? attached : attached + 5;
	if (!*a || !*b)
		return 0;
	if (!strcmp(a, b))
		return 1;
	const char *sa = suffix(a), *sb = suffix(b);
	return sa && sb && *sa && !strcmp(sa, sb);
}
