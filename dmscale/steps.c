/* Step timing of one command (attach): monotonic durations per step, one log line. */
#include "dmscale/steps.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dmscale/log.h"

static const char *const names[DMS_STEP_COUNT] = {
	[DMS_STEP_LOCK] = "lock", [DMS_STEP_READ] = "read", [DMS_STEP_CHECK] = "check",
	[DMS_STEP_WRITE_NEW] = "write_new", [DMS_STEP_WRITE_OLD_A] = "write_old_a",
	[DMS_STEP_WRITE_OLD_B] = "write_old_b", [DMS_STEP_LOAD] = "load", [DMS_STEP_RESUME] = "resume",
	[DMS_STEP_RESIZE] = "resize", [DMS_STEP_UDEV] = "udev", [DMS_STEP_UNPEND] = "unpend",
};

const char *dms_step_name(enum dms_step s)
{
	return (unsigned)s < DMS_STEP_COUNT ? names[s] : "?";
}

static int put_ms(char *buf, size_t len, size_t *at, const char *name, uint64_t ns)
{
	int k = snprintf(buf + *at, len - *at, " %s_ms=%llu.%03llu", name, (unsigned long long)(ns / 1000000u),
			 (unsigned long long)(ns / 1000u % 1000u));
	if (k < 0 || (size_t)k >= len - *at)
		return -ENOSPC;
	*at += (size_t)k;
	return 0;
}

int dms_steps_format(const struct dms_steps *st, uint64_t total_ns, const char *what, char *buf, size_t len)
{
	size_t at = 0;
	uint64_t sum = 0;
	if (!len)
		return -ENOSPC;
	int k = snprintf(buf, len, "%s steps:", what);
	if (k < 0 || (size_t)k >= len)
		return -ENOSPC;
	at = (size_t)k;
	for (int s = 0; s < DMS_STEP_COUNT; s++) {
		sum += st->ns[s];
		if (put_ms(buf, len, &at, names[s], st->ns[s]) < 0)
			return -ENOSPC;
	}
	if (put_ms(buf, len, &at, "other", total_ns > sum ? total_ns - sum : 0) < 0 ||
	    put_ms(buf, len, &at, "total", total_ns) < 0)
		return -ENOSPC;
	return 0;
}

static struct dms_steps cur;

uint64_t dms_steps_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void dms_steps_begin(void)
{
	memset(&cur, 0, sizeof(cur));
	cur.start_ns = dms_steps_now_ns();
}

void dms_steps_add(enum dms_step s, uint64_t since_ns)
{
	if (cur.start_ns && (unsigned)s < DMS_STEP_COUNT)
		cur.ns[s] += dms_steps_now_ns() - since_ns;
}

void dms_steps_end(const char *what)
{
	char line[512];
	if (!cur.start_ns)
		return;
	if (!what) {                    /* nothing worth a line (no append) */
		cur.start_ns = 0;
		return;
	}
	if (dms_steps_format(&cur, dms_steps_now_ns() - cur.start_ns, what, line, sizeof(line)) == 0)
		log_info("%s", line);
	cur.start_ns = 0;
}
