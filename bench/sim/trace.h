/* Reference traces (bench/traces/NAME.trace): "time_s used_bytes" samples,
 * '#' comment lines, linear in between; loaded once, read at any time. */
#ifndef DMSCALE_SIM_TRACE_H
#define DMSCALE_SIM_TRACE_H
#include <stddef.h>
#include <stdint.h>

struct trace {
	char name[64];
	size_t n;
	double *t_s;
	double *used;      /* bytes */
	double peak_used;  /* bytes */
	double end_s;      /* last sample */
};

/* 0 or -errno (-EINVAL with a message on stderr naming the file and line). */
int trace_load(const char *path, struct trace *tr);
void trace_free(struct trace *tr);
/* used bytes at t (before the first sample: the first; after the last: the last) */
double trace_used_at(const struct trace *tr, double t_s);

#endif
