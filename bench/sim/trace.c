/* Loading and reading reference traces. See trace.h. */
#include "bench/sim/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int trace_load(const char *path, struct trace *tr)
{
	memset(tr, 0, sizeof(*tr));
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t bl = strlen(base);
	if (bl > 6 && !strcmp(base + bl - 6, ".trace"))
		bl -= 6;
	snprintf(tr->name, sizeof(tr->name), "%.*s", (int)(bl < sizeof(tr->name) ? bl : sizeof(tr->name) - 1), base);
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		fprintf(stderr, "trace %s: cannot open: %s\n", path, strerror(e));
		return -e;
	}
	size_t cap = 0, lineno = 0;
	char line[256];
	int r = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		double t, u;
		if (sscanf(line, "%lf %lf", &t, &u) != 2 || u < 0 || (tr->n && t <= tr->t_s[tr->n - 1])) {
			fprintf(stderr, "trace %s:%zu: expected \"time_s used_bytes\", times increasing\n", path, lineno);
			r = -EINVAL;
			break;
		}
		if (tr->n == cap) {
			cap = cap ? cap * 2 : 1024;
			double *a = realloc(tr->t_s, cap * sizeof(double)), *b = a ? realloc(tr->used, cap * sizeof(double)) : NULL;
			if (a)
				tr->t_s = a;
			if (b)
				tr->used = b;
			if (!a || !b) {
				r = -ENOMEM;
				break;
			}
		}
		tr->t_s[tr->n] = t;
		tr->used[tr->n] = u;
		if (u > tr->peak_used)
			tr->peak_used = u;
		tr->n++;
	}
	fclose(f);
	if (!r && tr->n < 2) {
		fprintf(stderr, "trace %s: fewer than 2 samples\n", path);
		r = -EINVAL;
	}
	if (r < 0) {
		trace_free(tr);
		return r;
	}
	tr->end_s = tr->t_s[tr->n - 1];
	return 0;
}

void trace_free(struct trace *tr)
{
	free(tr->t_s);
	free(tr->used);
	tr->t_s = tr->used = NULL;
	tr->n = 0;
}

double trace_used_at(const struct trace *tr, double t)
{
	if (t <= tr->t_s[0])
		return tr->used[0];
	if (t >= tr->end_s)
		return tr->used[tr->n - 1];
	size_t lo = 0, hi = tr->n - 1;   /* t_s[lo] <= t < t_s[hi] */
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (tr->t_s[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	double a = (t - tr->t_s[lo]) / (tr->t_s[hi] - tr->t_s[lo]);
	return tr->used[lo] + a * (tr->used[hi] - tr->used[lo]);
}
