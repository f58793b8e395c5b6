/* Fuzz the pending list parser (dmscale/pending.c): the contents of
 * <state_dir>/<pool>/pending, one volume id per line. parse -> format ->
 * parse must give the same list. */
#include "tests/fuzz/fuzz.h"

#include <errno.h>

#include "dmscale/pending.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dms_pending p, q;
	static char out[DMS_MAX_MEMBERS * (DMS_VOLUME_ID_MAX + 1) + 1];
	char *text = (char *)fuzz_copy(data, size);
	int r = dms_pending_parse(text, size, &p);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -E2BIG);
	if (r == 0) {
		FUZZ_ASSERT(p.count <= DMS_MAX_MEMBERS);
		for (size_t i = 0; i < p.count; i++) {
			const char *id = p.ids[i];
			FUZZ_ASSERT(fuzz_terminated(id, sizeof(p.ids[i])));
			FUZZ_ASSERT(!strncmp(id, "vol-", 4) && id[4]);
			for (const char *c = id + 4; *c; c++)
				FUZZ_ASSERT((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));
		}
		int n = dms_pending_format(&p, out, sizeof(out));
		FUZZ_ASSERT(n >= 0 && (size_t)n < sizeof(out) && strlen(out) == (size_t)n);
		FUZZ_ASSERT(dms_pending_parse(out, (size_t)n, &q) == 0);
		FUZZ_ASSERT(q.count == p.count);
		for (size_t i = 0; i < p.count; i++)
			FUZZ_ASSERT(!strcmp(p.ids[i], q.ids[i]));
		/* too small a buffer is refused */
		if (n > 0) {
			char small[16];
			int m = dms_pending_format(&p, small, sizeof(small));
			FUZZ_ASSERT((size_t)n < sizeof(small) ? m == n : m == -ENOSPC);
		}
	}
	free(text);
	return 0;
}
