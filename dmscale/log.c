/* Logging: leveled lines on stderr (journal priorities when run by systemd), one per error. */
#include "dmscale/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int max_level = LOG_LVL_INFO;
static int journal_prefix;
static log_sink_fn sink;
static void *sink_userdata;

void log_set_level(int level) { max_level = level; }
int log_get_level(void) { return max_level; }
void log_set_journal_prefix(int on) { journal_prefix = on; }
void log_set_sink(log_sink_fn fn, void *userdata)
{
	sink = fn;
	sink_userdata = userdata;
}

int log_internal(int level, int err, const char *fmt, ...)
{
	int saved = errno;
	int ret = err ? -abs(err) : -EIO;

	if (level > max_level && !sink)
		goto out;

	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	/* %m in the format refers to err, like systemd. */
	errno = abs(err);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (sink)
		sink(level, line, sink_userdata);
	else if (journal_prefix)
		fprintf(stderr, "<%d>%s\n", level, line);
	else
		fprintf(stderr, "dmscale: %s%s\n",
			level <= LOG_LVL_ERR ? "error: " : level == LOG_LVL_WARN ? "warning: " : "", line);
out:
	errno = saved;
	return ret;
}
