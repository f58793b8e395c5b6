/* Block I/O through libaio with deadlines and a quarantine (see aio.h). */
#include "dmscale/aio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "dmscale/log.h"
#include "dmscale/stuck.h"

enum req_state { REQ_QUEUED, REQ_INFLIGHT, REQ_DONE, REQ_FAILED };

struct req {
	struct iocb cb;                 /* cb.data points back to this request */
	struct dms_aio_batch *batch;
	void *buf;
	size_t len;
	long res;
	enum req_state state;
	dev_t key_dev;                  /* the device: st_rdev of a block device, */
	ino_t key_ino;                  /* else st_dev + st_ino (tests use files) */
	char what[64];
};

struct dms_aio_batch {
	size_t n;
	unsigned inflight;
	bool ran;
	bool orphaned;                  /* freed by its owner: in the quarantine */
	bool late;                      /* passed its deadline with I/O in flight */
	struct dms_aio_batch *next;     /* on g.stuck while inflight > 0 after a run */
	struct req req[DMS_AIO_BATCH_MAX];
};

static const struct dms_aio_ops libaio_ops = {
	.setup = io_setup,
	.submit = io_submit,
	.getevents = io_getevents,
	.destroy = io_destroy,
};

static struct {
	const struct dms_aio_ops *ops;
	io_context_t ctx;
	bool have_ctx;
	unsigned inflight;              /* submitted, not yet completed (all batches) */
	unsigned quarantined;           /* of those, in batches their owner freed */
	struct dms_aio_batch *stuck;    /* batches that passed a deadline with I/O in flight */
} g = { .ops = &libaio_ops };

#define EVENTS_PER_CALL 64

/* Buffers of completed requests, kept for this process's next batch. A fresh
 * buffer costs a page fault per 4 KiB when it is first filled: under the
 * test bed's emulation about 30 us each, more than the I/O itself (an attach
 * at 26 members faulted in 3.4 MiB for its label reads alone, then as much
 * again for each write batch). Only completed requests' buffers come here;
 * a buffer the kernel may still write into stays with its request. */
#define CACHE_MAX_BUFS  128
#define CACHE_MAX_BYTES (8u << 20)
static struct {
	void *p[CACHE_MAX_BUFS];
	size_t len[CACHE_MAX_BUFS];
	size_t n, bytes;
} cache;

static void *buf_get(size_t len)
{
	for (size_t i = cache.n; i-- > 0;)
		if (cache.len[i] == len) {
			void *p = cache.p[i];
			cache.n--;
			cache.p[i] = cache.p[cache.n];
			cache.len[i] = cache.len[cache.n];
			cache.bytes -= len;
			return p;
		}
	void *p = NULL;
	return posix_memalign(&p, DMS_AIO_ALIGN, len) ? NULL : p;
}

static void buf_put(void *p, size_t len)
{
	if (!p)
		return;
	if (cache.n == CACHE_MAX_BUFS || len > CACHE_MAX_BYTES - cache.bytes) {
		free(p);
		return;
	}
	cache.p[cache.n] = p;
	cache.len[cache.n++] = len;
	cache.bytes += len;
}

void dms_aio_drop_cache(void)
{
	for (size_t i = 0; i < cache.n; i++)
		free(cache.p[i]);
	cache.n = cache.bytes = 0;
}

int dms_aio_set_ops(const struct dms_aio_ops *ops)
{
	if (g.inflight)
		return -EBUSY;
	if (g.have_ctx)
		g.ops->destroy(g.ctx);
	g.have_ctx = false;
	g.ctx = 0;
	g.ops = ops ? ops : &libaio_ops;
	return 0;
}

static void unlink_stuck(struct dms_aio_batch *b)
{
	for (struct dms_aio_batch **p = &g.stuck; *p; p = &(*p)->next)
		if (*p == b) {
			*p = b->next;
			b->next = NULL;
			return;
		}
}

static void release(struct dms_aio_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		buf_put(b->req[i].buf, b->req[i].len);
	free(b);
}

/* Has the device (key_dev, key_ino) a request still in flight past its deadline? */
static bool key_stuck(dev_t key_dev, ino_t key_ino);

static void dispatch(const struct io_event *ev)
{
	struct req *q = ev->data;
	if (!q || q->state != REQ_INFLIGHT || &q->cb != ev->obj) {
		log_error("aio: a completion for an unknown request was ignored");
		return;
	}
	struct dms_aio_batch *b = q->batch;
	const bool late = b->late;
	const dev_t key_dev = q->key_dev;
	const ino_t key_ino = q->key_ino;
	q->res = (long)ev->res;
	q->state = REQ_DONE;
	b->inflight--;
	g.inflight--;
	if (b->orphaned) {
		/* The kernel is done with this buffer at last: now it may go. */
		g.quarantined--;
		log_notice("%s: an I/O that missed its deadline has completed (result %ld); its buffer is released",
			   q->what, q->res);
		buf_put(q->buf, q->len);
		q->buf = NULL;
	}
	if (!b->inflight) {
		unlink_stuck(b);
		if (b->orphaned)
			release(b);
	}
	/* b may be gone: the other processes may use the device again (stuck.h) */
	if (late && !key_stuck(key_dev, key_ino))
		dms_stuck_clear(key_dev, key_ino);
}

/* One io_getevents call; dispatches what it returns. */
static int collect(long min_nr, struct timespec *ts)
{
	struct io_event ev[EVENTS_PER_CALL];
	int r = g.ops->getevents(g.ctx, min_nr, EVENTS_PER_CALL, ev, ts);
	for (int i = 0; i < r; i++)
		dispatch(&ev[i]);
	return r;
}

int dms_aio_reap(void)
{
	while (g.have_ctx && g.inflight) {
		struct timespec zero = { 0, 0 };
		int r = collect(0, &zero);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return log_error_errno(-r, "aio: cannot collect completions: %m");
		if (r < EVENTS_PER_CALL)
			break;
	}
	return (int)g.quarantined;
}

unsigned dms_aio_quarantined(void) { return g.quarantined; }

int dms_aio_shutdown(void)
{
	dms_aio_drop_cache();           /* never a buffer in flight */
	(void)dms_aio_reap();
	if (g.inflight)
		return -EBUSY;
	if (g.have_ctx)
		g.ops->destroy(g.ctx);
	g.have_ctx = false;
	g.ctx = 0;
	return 0;
}

struct dms_aio_batch *dms_aio_batch_new(void)
{
	return calloc(1, sizeof(struct dms_aio_batch));
}

void *dms_aio_batch_add(struct dms_aio_batch *b, int fd, enum dms_aio_op op, bytes_t off_bytes,
			size_t len_bytes, const char *what)
{
	struct stat st;
	if (b->ran || b->n >= DMS_AIO_BATCH_MAX || !len_bytes || len_bytes % 512 || off_bytes % 512) {
		errno = EINVAL;
		return NULL;
	}
	if (fstat(fd, &st) < 0)
		return NULL;
	struct req *q = &b->req[b->n];
	memset(q, 0, sizeof(*q));
	if (!(q->buf = buf_get(len_bytes))) {
		errno = ENOMEM;
		return NULL;
	}
	memset(q->buf, 0, len_bytes);
	q->batch = b;
	q->len = len_bytes;
	q->state = REQ_QUEUED;
	dms_stuck_key(&st, &q->key_dev, &q->key_ino);
	snprintf(q->what, sizeof(q->what), "%s", what ? what : "?");
	if (op == DMS_AIO_WRITE_FUA) {
		io_prep_pwrite(&q->cb, fd, q->buf, len_bytes, (long long)off_bytes);
		q->cb.aio_rw_flags = RWF_DSYNC;
	} else {
		io_prep_pread(&q->cb, fd, q->buf, len_bytes, (long long)off_bytes);
	}
	q->cb.data = q;
	b->n++;
	return q->buf;
}

static bool key_stuck(dev_t key_dev, ino_t key_ino)
{
	for (const struct dms_aio_batch *b = g.stuck; b; b = b->next)
		for (size_t i = 0; i < b->n; i++)
			if (b->req[i].state == REQ_INFLIGHT && b->req[i].key_dev == key_dev &&
			    b->req[i].key_ino == key_ino)
				return true;
	return false;
}

/* Does the device of q have a request still in flight past its deadline? */
static bool device_stuck(const struct req *q)
{
	return key_stuck(q->key_dev, q->key_ino);
}

static void fail(struct req *q, int err)
{
	q->state = REQ_FAILED;
	q->res = err;
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000L + (deadline->tv_nsec - now.tv_nsec) / 1000000L;
}

int dms_aio_batch_run(struct dms_aio_batch *b, int timeout_ms)
{
	struct iocb *list[DMS_AIO_BATCH_MAX];
	size_t k = 0;
	int first_err = 0;
	pid_t owner;

	if (b->ran)
		return -EINVAL;
	b->ran = true;
	(void)dms_aio_reap();
	if (!g.have_ctx) {
		g.ctx = 0;
		int r = g.ops->setup(DMS_AIO_CTX_EVENTS, &g.ctx);
		if (r < 0) {
			for (size_t i = 0; i < b->n; i++)
				fail(&b->req[i], r);
			return log_error_errno(-r, "cannot set up asynchronous I/O (io_setup): %m; "
					       "check fs.aio-nr against fs.aio-max-nr");
		}
		g.have_ctx = true;
	}
	const bool markers = b->n > 0 && dms_stuck_any();
	for (size_t i = 0; i < b->n; i++) {
		struct req *q = &b->req[i];
		/* Everything in flight now passed its deadline in an earlier run. */
		if (g.inflight >= DMS_AIO_QUARANTINE_MAX) {
			fail(q, -EBUSY);
			first_err = first_err ? first_err :
				log_error_errno(EBUSY, "%s: %u I/O requests are stuck in devices that stopped "
						"answering; refusing more I/O (check the volumes' EBS status)",
						q->what, g.inflight);
		} else if (device_stuck(q)) {
			fail(q, -EBUSY);
			first_err = first_err ? first_err :
				log_error_errno(EBUSY, "%s: an earlier I/O to this device is still in flight past "
						"its deadline; no more I/O to it until it completes (check the "
						"volume's EBS status)", q->what);
		} else if (markers && (owner = dms_stuck_owner(q->key_dev, q->key_ino, NULL)) > 0) {
			/* Submitting would make this process wait out its deadline
			 * (under the pool lock) and then hang at exit: refuse now. */
			fail(q, -EBUSY);
			first_err = first_err ? first_err :
				log_error_errno(EBUSY, "%s: an I/O of dmscale process %d to this device is stuck "
						"past its deadline; no I/O to it until that completes (check the "
						"volume's EBS status)", q->what, (int)owner);
		} else {
			list[k++] = &q->cb;
		}
	}
	for (size_t done = 0; done < k;) {
		int r = g.ops->submit(g.ctx, (long)(k - done), list + done);
		if (r <= 0) {
			int err = r < 0 ? r : -EAGAIN;
			for (size_t j = done; j < k; j++)
				fail(list[j]->data, err);
			first_err = first_err ? first_err :
				log_error_errno(-err, "%s: cannot submit I/O: %m",
						((struct req *)list[done]->data)->what);
			break;
		}
		for (size_t j = done; j < done + (size_t)r; j++)
			((struct req *)list[j]->data)->state = REQ_INFLIGHT;
		b->inflight += (unsigned)r;
		g.inflight += (unsigned)r;
		done += (size_t)r;
	}

	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (b->inflight) {
		long left = ms_left(&deadline);
		if (left <= 0)
			break;
		struct timespec ts = { left / 1000, (left % 1000) * 1000000L };
		int r = collect(1, &ts);
		if (r == -EINTR)        /* a signal: the I/O is still ours to wait for */
			continue;
		if (r < 0) {
			log_error_errno(-r, "aio: cannot wait for completions: %m");
			break;
		}
		if (r == 0)             /* the kernel waited the whole time left */
			break;
	}
	if (!b->inflight)
		return first_err;
	for (size_t i = 0; i < b->n; i++)
		if (b->req[i].state == REQ_INFLIGHT) {
			b->req[i].res = -ETIMEDOUT;
			log_error("%s: I/O did not complete within %d ms; the device is not responding "
				  "(check the volume's EBS status)", b->req[i].what, timeout_ms);
			dms_stuck_mark(b->req[i].key_dev, b->req[i].key_ino);
		}
	b->late = true;
	b->next = g.stuck;
	g.stuck = b;
	return -ETIMEDOUT;
}

size_t dms_aio_batch_count(const struct dms_aio_batch *b) { return b->n; }

long dms_aio_batch_result(const struct dms_aio_batch *b, size_t i)
{
	if (i >= b->n)
		return -EINVAL;
	const struct req *q = &b->req[i];
	if (q->state == REQ_QUEUED)
		return -EINPROGRESS;
	if (q->state == REQ_INFLIGHT)
		return -ETIMEDOUT;
	return q->res;
}

void *dms_aio_batch_buf(const struct dms_aio_batch *b, size_t i)
{
	if (i >= b->n || b->req[i].state == REQ_INFLIGHT)
		return NULL;
	return b->req[i].buf;
}

void dms_aio_batch_free(struct dms_aio_batch *b)
{
	if (!b)
		return;
	(void)dms_aio_reap();
	if (!b->inflight) {
		release(b);
		return;
	}
	/* The kernel may still write into the in-flight buffers: keep them (and
	 * the batch that dispatch() finds them through) until it completes. */
	for (size_t i = 0; i < b->n; i++)
		if (b->req[i].state != REQ_INFLIGHT) {
			buf_put(b->req[i].buf, b->req[i].len);
			b->req[i].buf = NULL;
		}
	b->orphaned = true;
	g.quarantined += b->inflight;
	log_warning("%u I/O request(s) still in flight past their deadline; their buffers are kept until "
		    "the device answers", b->inflight);
}
