/* Measured attach latencies for the replay. See latency_samples.h. */
#include "bench/sim/latency_samples.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void latency_samples_free(struct latency_samples *s)
{
	free(s->attached_s);
	free(s->grown_s);
	memset(s, 0, sizeof(*s));
}

static int push(struct latency_samples *s, size_t *cap, double a, double g)
{
	if (s->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		double *x = realloc(s->attached_s, nc * sizeof(double));
		if (!x)
			return -ENOMEM;
		s->attached_s = x;
		double *y = realloc(s->grown_s, nc * sizeof(double));
		if (!y)
			return -ENOMEM;
		s->grown_s = y;
		*cap = nc;
	}
	s->attached_s[s->n] = a;
	s->grown_s[s->n] = g;
	s->n++;
	return 0;
}

/* One "a g" line (without its newline): 0 or -EINVAL. */
static int parse_line(const char *p, const char *end, double *a, double *g)
{
	char buf[128];
	size_t len = (size_t)(end - p);
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, p, len);
	buf[len] = '\0';
	char *e1, *e2;
	*a = strtod(buf, &e1);
	if (e1 == buf)
		return -EINVAL;
	*g = strtod(e1, &e2);
	if (e2 == e1)
		return -EINVAL;
	while (*e2 == ' ' || *e2 == '\t' || *e2 == '\r')
		e2++;
	if (*e2 || !isfinite(*a) || !isfinite(*g) || *a < 0 || *g < 0)
		return -EINVAL;
	return 0;
}

int latency_samples_parse(const char *text, struct latency_samples *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	size_t cap = 0, lineno = 0;
	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');
		if (!end)
			end = p + strlen(p);
		lineno++;
		const char *q = p;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q < end && *q != '#') {
			double a, g;
			int r = parse_line(q, end, &a, &g);
			if (r == 0)
				r = push(s, &cap, a, g);
			if (r < 0) {
				snprintf(err, errlen, "line %zu: %s", lineno, r == -ENOMEM ? "out of memory" :
					 "expected \"attached_s grown_s\" (seconds after CreateVolume, >= 0)");
				latency_samples_free(s);
				return r;
			}
		}
		p = *end ? end + 1 : end;
	}
	if (!s->n) {
		snprintf(err, errlen, "no sample (one line \"attached_s grown_s\" per volume)");
		return -EINVAL;
	}
	return 0;
}

int latency_samples_load(const char *path, struct latency_samples *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	char *buf = malloc(1 << 20);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	int bad = ferror(f) || !feof(f);
	fclose(f);
	if (bad) {
		free(buf);
		snprintf(err, errlen, "%s: cannot read it whole (at most 1 MiB)", path);
		return -EIO;
	}
	buf[n] = '\0';
	char e2[200];
	int r = latency_samples_parse(buf, s, e2, sizeof(e2));
	free(buf);
	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, e2);
	return r;
}
