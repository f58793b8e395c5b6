/* Prometheus metrics of a pool, text exposition format 0.0.4:
 * `dmscale status --prometheus` (dms_status_print_prometheus) and the daemon's
 * node_exporter textfile (metrics_textfile).
 * The metric families are listed at the top of metrics.c. */
#ifndef DMSCALE_METRICS_H
#define DMSCALE_METRICS_H
#include <stdbool.h>
#include <stddef.h>
#include "dmscale/status.h"

/* The exposition of *st on f (`dmscale status --prometheus`). */
int dms_status_print_prometheus(const struct dms_status *st, FILE *f);

/* Pure: the exposition of *st in a malloc'ed, NUL-terminated buffer (*text,
 * *len bytes; the caller frees it). Returns 0, -EINVAL, -ENOMEM or -EIO. */
int dms_metrics_format(const struct dms_status *st, char **text, size_t *len);

/* Adapter: write the exposition of *st to `path` (absolute) atomically:
 * PATH.tmp.PID in the same directory (never following a symlink), fsync,
 * rename over PATH. When daemon_json is not NULL it is the daemon's state
 * object (as written to /run/dmscale/NAME.daemon.json) and replaces
 * st->daemon, with daemon_running as st->daemon_running; *st is not modified.
 * Returns 0 or -errno: -ENOENT when the directory does not exist. */
int dms_metrics_write_textfile(const char *path, const struct dms_status *st, const char *daemon_json,
			       bool daemon_running);
#endif
