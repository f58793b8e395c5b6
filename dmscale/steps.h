/* Step timing of one command (attach): monotonic durations per step, one log line. */
#ifndef DMSCALE_STEPS_H
#define DMSCALE_STEPS_H
#include <stddef.h>
#include <stdint.h>

/* The steps of an append, in the order they run. A step may run more than
 * once in a command (a thin append reloads three devices): its time adds up. */
enum dms_step {
	DMS_STEP_LOCK,          /* waiting for and taking the pool lock */
	DMS_STEP_READ,          /* reading labels (members and candidate) */
	DMS_STEP_CHECK,         /* candidate checks: holders, mounts, signatures, O_EXCL */
	DMS_STEP_WRITE_NEW,     /* the new device's copies A and B */
	DMS_STEP_WRITE_OLD_A,   /* every old member's copy A, one submit */
	DMS_STEP_WRITE_OLD_B,   /* every old member's copy B, one submit */
	DMS_STEP_LOAD,          /* DM_TABLE_LOAD */
	DMS_STEP_RESUME,        /* DM_DEV_SUSPEND (resume: suspend, swap, resume) */
	DMS_STEP_RESIZE,        /* the filesystem's online grow */
	DMS_STEP_UDEV,          /* waiting for udev to process the dm events */
	DMS_STEP_UNPEND,        /* removing the volume from the daemon's pending list */
	DMS_STEP_COUNT
};

struct dms_steps {
	uint64_t ns[DMS_STEP_COUNT];
	uint64_t start_ns;      /* 0: not recording */
};

/* The step name as it appears in the line ("write_old_a"). */
const char *dms_step_name(enum dms_step s);
/* One line: "<what> steps: lock_ms=0.120 read_ms=... total_ms=..." (ms, 3
 * decimals; total is total_ns, "other" what the steps do not cover). Pure. */
int dms_steps_format(const struct dms_steps *st, uint64_t total_ns, const char *what, char *buf, size_t len);

/* The command's recorder (process-wide; a command runs one append at a time). */
uint64_t dms_steps_now_ns(void);
void dms_steps_begin(void);                              /* reset and start */
void dms_steps_add(enum dms_step s, uint64_t since_ns);  /* += now - since, when recording */
/* Log the line (info; none when what is NULL) and stop recording. */
void dms_steps_end(const char *what);
#endif
