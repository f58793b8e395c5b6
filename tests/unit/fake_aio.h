/* A fake of the AIO system calls (struct dms_aio_ops) for unit tests: the
 * "device" is the request's own fd (a memfd or file), and a request completes
 * only when the test says so, or at once in `answer` mode. Completing performs
 * the I/O into/out of the request's buffer as DMA would, so a buffer freed
 * too early is a use-after-free that ASan and valgrind report. */
#ifndef DMSCALE_FAKE_AIO_H
#define DMSCALE_FAKE_AIO_H
#include <string.h>
#include <unistd.h>

#include <stdio.h>

#include "dmscale/aio.h"
#include "dmscale/stuck.h"

#define FAKE_MAX 1024

static struct {
	int setups, destroys, submits, getevents;
	int eintr_left;              /* io_getevents fails with -EINTR this many times first */
	int answer;                  /* 1: every wait completes all pending requests */
	struct iocb *pending[FAKE_MAX];
	size_t npending;
	struct io_event done[FAKE_MAX];
	size_t ndone;
} fake;

static char fake_ctx_cookie;

static int fake_setup(int maxevents, io_context_t *ctx)
{
	(void)maxevents;
	fake.setups++;
	*ctx = (io_context_t)(void *)&fake_ctx_cookie;
	return 0;
}

static int fake_submit(io_context_t ctx, long nr, struct iocb *ios[])
{
	(void)ctx;
	fake.submits++;
	for (long i = 0; i < nr; i++)
		fake.pending[fake.npending++] = ios[i];
	return (int)nr;
}

/* The device finally answers every pending request (the "DMA" happens now). */
static void fake_complete_all(void)
{
	for (size_t i = 0; i < fake.npending; i++) {
		struct iocb *cb = fake.pending[i];
		ssize_t n;
		if (cb->aio_lio_opcode == IO_CMD_PREAD)
			n = pread(cb->aio_fildes, cb->u.c.buf, cb->u.c.nbytes, cb->u.c.offset);
		else
			n = pwrite(cb->aio_fildes, cb->u.c.buf, cb->u.c.nbytes, cb->u.c.offset);
		struct io_event *ev = &fake.done[fake.ndone++];
		memset(ev, 0, sizeof(*ev));
		ev->data = cb->data;
		ev->obj = cb;
		ev->res = (unsigned long)(n < 0 ? -errno : n);
	}
	fake.npending = 0;
}

static int fake_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
			  struct timespec *timeout)
{
	(void)ctx;
	(void)min_nr;
	(void)timeout;
	fake.getevents++;
	if (fake.eintr_left > 0) {
		fake.eintr_left--;
		return -EINTR;
	}
	if (fake.answer)
		fake_complete_all();
	long n = (long)fake.ndone < nr ? (long)fake.ndone : nr;
	memcpy(events, fake.done, (size_t)n * sizeof(*events));
	memmove(fake.done, fake.done + n, (fake.ndone - (size_t)n) * sizeof(*events));
	fake.ndone -= (size_t)n;
	return (int)n;   /* 0: "the timeout passed" */
}

static int fake_destroy(io_context_t ctx)
{
	(void)ctx;
	fake.destroys++;
	return 0;
}

static const struct dms_aio_ops fake_ops = {
	.setup = fake_setup, .submit = fake_submit, .getevents = fake_getevents, .destroy = fake_destroy,
};

/* Stuck-device markers (stuck.h) go to a directory of this test process,
 * not the machine's /run/dmscale. */
static char fake_stuck_dir[64];

static int fake_install(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof(fake));
	fake.answer = 1;
	snprintf(fake_stuck_dir, sizeof(fake_stuck_dir), "/tmp/dmscale-fake-stuck.%d", (int)getpid());
	dms_stuck_set_dir(fake_stuck_dir);
	return dms_aio_set_ops(&fake_ops);
}

/* Every test ends with nothing in flight and the context destroyed. */
static int fake_remove(void **state)
{
	(void)state;
	fake_complete_all();
	(void)dms_aio_reap();
	int r = dms_aio_shutdown();
	if (r == 0)
		r = dms_aio_set_ops(NULL);
	(void)rmdir(fake_stuck_dir);       /* empty: every marker was cleared on completion */
	dms_stuck_set_dir(NULL);
	return r;
}
#endif
