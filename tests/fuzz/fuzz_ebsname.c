/* Fuzz the EBS device naming (dmscale/ebsname.c and the NVMe serial rule of
 * dmscale/label.c): the NVMe Identify Controller page a device returns (its
 * vendor area names the device EBS was asked for, its serial number is the
 * volume id), and the comparison of a requested name with an attached one.
 *
 * Input: the Identify Controller bytes (normally 4096). The two names compared
 * are the first two NUL-separated strings of the input. */
#include "tests/fuzz/fuzz.h"

#include <errno.h>

#include "dmscale/ebsname.h"
#include "dmscale/label.h"

#define NVME_SN_OFF   4
#define NVME_SN_BYTES 20

static int lower_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static void identify(const uint8_t *data, size_t size)
{
	uint8_t *id = fuzz_copy(data, size);
	char out[48];
	int r = dms_ebs_identify_devname(id, size, out, sizeof(out));
	FUZZ_ASSERT(r == 0 || r == -ENODATA || r == -EBADMSG || r == -EMSGSIZE || r == -ENAMETOOLONG);
	if (r == 0) {
		/* "/dev/" + [a-z0-9]+: safe to open and to compare */
		FUZZ_ASSERT(fuzz_terminated(out, sizeof(out)) && !strncmp(out, "/dev/", 5) && out[5]);
		for (const char *p = out + 5; *p; p++)
			FUZZ_ASSERT((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
		FUZZ_ASSERT(dms_ebs_name_matches(out, out) == 1);
		FUZZ_ASSERT(dms_ebs_name_matches(out + 5, out) == 1);
		/* too small an output buffer is refused */
		char small[8];
		r = dms_ebs_identify_devname(id, size, small, sizeof(small));
		FUZZ_ASSERT(strlen(out) < sizeof(small) ? r == 0 : r == -ENAMETOOLONG);
	}
	/* the serial number field, as the kernel shows it in sysfs */
	if (size >= NVME_SN_OFF + NVME_SN_BYTES) {
		char serial[NVME_SN_BYTES + 1];
		memcpy(serial, id + NVME_SN_OFF, NVME_SN_BYTES);
		serial[NVME_SN_BYTES] = '\0';
		char vol[DMS_VOLUME_ID_MAX];
		r = dms_volume_id_from_serial(serial, vol);
		FUZZ_ASSERT(r == 0 || r == -EINVAL);
		if (r == 0) {
			size_t n = strnlen(vol, sizeof(vol));
			FUZZ_ASSERT(n == 4 + 8 || n == 4 + 17);
			FUZZ_ASSERT(!strncmp(vol, "vol-", 4) && lower_hex(vol + 4));
		}
	}
	free(id);
}

static void names(const uint8_t *data, size_t size)
{
	char *a = fuzz_cstr(data, size);
	size_t alen = strlen(a);
	char *b = fuzz_cstr(alen < size ? data + alen + 1 : data + size, alen < size ? size - alen - 1 : 0);
	int ab = dms_ebs_name_matches(a, b), ba = dms_ebs_name_matches(b, a);
	FUZZ_ASSERT((ab == 0 || ab == 1) && ab == ba); /* symmetric */
	const char *base = strncmp(a, "/dev/", 5) ? a : a + 5;
	FUZZ_ASSERT(dms_ebs_name_matches(a, a) == (*base != '\0')); /* reflexive */
	free(a);
	free(b);
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
	identify(data, size);
	names(data, size);
	return 0;
}
