/* Block I/O through libaio: batches submitted at once, waited for with a
 * deadline, and never a buffer freed while the kernel may still write it.
 *
 * One AIO context serves the whole process (io_setup once, not per read: an
 * io_destroy costs ~30 ms). A batch owns its O_DIRECT buffers. When a request
 * misses its deadline the batch reports -ETIMEDOUT for it, and freeing the
 * batch moves the buffers still in flight into a module-owned quarantine; they
 * are released only when the kernel completes the request (dms_aio_reap, or
 * any later wait). io_cancel does nothing for block devices, and io_destroy
 * would block on the stuck request, so neither is used. A device with a
 * quarantined request gets no new I/O (-EBUSY) until that request completes,
 * and at most DMS_AIO_QUARANTINE_MAX requests are ever quarantined.
 * Not thread-safe: dmscale is single-threaded. */
#ifndef DMSCALE_AIO_H
#define DMSCALE_AIO_H
#include <libaio.h>
#include <stddef.h>
#include <time.h>
#include "dmscale/units.h"

/* The system calls, injectable so that a unit test can play a device that
 * never answers, or answers late. Same contracts as libaio's (-errno). */
struct dms_aio_ops {
	int (*setup)(int maxevents, io_context_t *ctx);
	int (*submit)(io_context_t ctx, long nr, struct iocb *ios[]);
	int (*getevents)(io_context_t ctx, long min_nr, long nr, struct io_event *events,
			 struct timespec *timeout);
	int (*destroy)(io_context_t ctx);
};

#define DMS_AIO_CTX_EVENTS      512   /* the process-wide context's depth */
#define DMS_AIO_BATCH_MAX       256   /* requests in one batch */
#define DMS_AIO_QUARANTINE_MAX  64    /* requests left in flight after their deadline */
#define DMS_AIO_ALIGN           4096  /* buffer alignment (O_DIRECT) */

enum dms_aio_op {
	DMS_AIO_READ,
	DMS_AIO_WRITE_FUA,   /* RWF_DSYNC: durable (FUA / flush) when it completes */
};

struct dms_aio_batch;

/* Replace the system calls (NULL: libaio's). -EBUSY while I/O is in flight;
 * a context made by the old ops is destroyed first. */
int dms_aio_set_ops(const struct dms_aio_ops *ops);

/* NULL when out of memory. */
struct dms_aio_batch *dms_aio_batch_new(void);
/* Queue one request of len_bytes (a multiple of 512) at off_bytes of fd, and
 * return its zeroed buffer (aligned, owned by the batch; fill it now for a
 * write). `what` names the device in messages (copied). NULL: out of memory,
 * or the batch is full or already ran. */
void *dms_aio_batch_add(struct dms_aio_batch *b, int fd, enum dms_aio_op op, bytes_t off_bytes,
			size_t len_bytes, const char *what);
/* Submit every request in one io_submit and wait until all completed or
 * timeout_ms passed (EINTR does not end the wait). 0 when every request
 * completed (each may still have failed: see dms_aio_batch_result), or
 * -ETIMEDOUT / -EBUSY / -errno when at least one did not. Once per batch. */
int dms_aio_batch_run(struct dms_aio_batch *b, int timeout_ms);
size_t dms_aio_batch_count(const struct dms_aio_batch *b);
/* Request i after the run: bytes transferred, or -errno. -ETIMEDOUT: still in
 * flight (its buffer must not be read); -EBUSY: refused, never submitted. */
long dms_aio_batch_result(const struct dms_aio_batch *b, size_t i);
/* The buffer of request i (NULL while it is in flight after a run). */
void *dms_aio_batch_buf(const struct dms_aio_batch *b, size_t i);
/* Free the batch; requests still in flight go to the quarantine. NULL is fine. */
void dms_aio_batch_free(struct dms_aio_batch *b);

/* Collect completions without waiting; releases quarantined requests the
 * kernel has finished. Returns how many stay quarantined, or -errno. */
int dms_aio_reap(void);
/* Requests in the quarantine now. */
unsigned dms_aio_quarantined(void);
/* Destroy the context if nothing is in flight (0), else leave it (-EBUSY);
 * either way, free the cached buffers. */
int dms_aio_shutdown(void);
/* Free the buffers kept from completed requests (aio.c keeps up to 8 MiB for
 * the next batch); a long-lived process calls it once a command is done. */
void dms_aio_drop_cache(void);
#endif
