/* Test-only failpoints (DMS_TESTING builds): park the process at a named step. */
#include "dmscale/failpoint.h"

#ifdef DMS_TESTING
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmscale/log.h"
#include "dmscale/pending.h"

void dms_failpoint(const char *name)
{
	char armed[128] = "";
	const char *env = getenv("DMSCALE_FAILPOINT");
	if (!name)
		return;
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
#else
typedef int dms_failpoint_unused_t;   /* ISO C: a translation unit is not empty */
#endif
