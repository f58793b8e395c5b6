/* aio.c: one context for many batches, one submit per batch, and the
 * quarantine: a request that misses its deadline keeps its buffer until the
 * device answers (the fake "DMAs" into it then: ASan/valgrind see any early
 * free), the device gets no more I/O meanwhile, and no context leaks. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "dmscale/log.h"
#include "dmscale/stuck.h"
#include "tests/unit/fake_aio.h"

/* A fake device: a memfd filled with `byte`. */
static int make_dev(int byte)
{
	int fd = memfd_create("dev", MFD_CLOEXEC);
	assert_true(fd >= 0);
	uint8_t block[8192];
	memset(block, byte, sizeof(block));
	assert_int_equal(pwrite(fd, block, sizeof(block), 0), (ssize_t)sizeof(block));
	return fd;
}

static void test_batches_share_one_context(void **state)
{
	(void)state;
	int a = make_dev(0xA1), b = make_dev(0xB2);
	for (int round = 0; round < 3; round++) {
		struct dms_aio_batch *bt = dms_aio_batch_new();
		assert_non_null(bt);
		assert_non_null(dms_aio_batch_add(bt, a, DMS_AIO_READ, 4096, 4096, "a"));
		assert_non_null(dms_aio_batch_add(bt, b, DMS_AIO_READ, 0, 4096, "b"));
		assert_int_equal(dms_aio_batch_run(bt, 1000), 0);
		assert_int_equal(dms_aio_batch_result(bt, 0), 4096);
		assert_int_equal(dms_aio_batch_result(bt, 1), 4096);
		assert_int_equal(((uint8_t *)dms_aio_batch_buf(bt, 0))[4095], 0xA1);
		assert_int_equal(((uint8_t *)dms_aio_batch_buf(bt, 1))[0], 0xB2);
		assert_int_equal(dms_aio_batch_run(bt, 1000), -EINVAL);   /* once per batch */
		dms_aio_batch_free(bt);
	}
	assert_int_equal(fake.setups, 1);        /* one io_setup for the whole process */
	assert_int_equal(fake.submits, 3);       /* one io_submit per batch */
	assert_int_equal(fake.destroys, 0);
	assert_int_equal(dms_aio_shutdown(), 0);
	assert_int_equal(fake.destroys, 1);
	close(a);
	close(b);
}

static void test_write_fua(void **state)
{
	(void)state;
	int a = make_dev(0);
	struct dms_aio_batch *bt = dms_aio_batch_new();
	uint8_t *buf = dms_aio_batch_add(bt, a, DMS_AIO_WRITE_FUA, 512, 512, "a");
	assert_non_null(buf);
	memset(buf, 0x5A, 512);
	assert_int_equal(fake.npending, 0);      /* nothing submitted before the run */
	assert_int_equal(dms_aio_batch_run(bt, 1000), 0);
	assert_int_equal(dms_aio_batch_result(bt, 0), 512);
	dms_aio_batch_free(bt);
	uint8_t back[512];
	assert_int_equal(pread(a, back, sizeof(back), 512), 512);
	assert_int_equal(back[0], 0x5A);
	assert_int_equal(back[511], 0x5A);
	close(a);
}

static void test_bad_requests(void **state)
{
	(void)state;
	int a = make_dev(0);
	struct dms_aio_batch *bt = dms_aio_batch_new();
	assert_null(dms_aio_batch_add(bt, a, DMS_AIO_READ, 0, 100, "a"));    /* not sector sized */
	assert_null(dms_aio_batch_add(bt, a, DMS_AIO_READ, 100, 512, "a"));
	assert_null(dms_aio_batch_add(bt, -1, DMS_AIO_READ, 0, 512, "a"));
	assert_int_equal(dms_aio_batch_count(bt), 0);
	dms_aio_batch_free(bt);
	dms_aio_batch_free(NULL);
	close(a);
}

/* A full batch (far more requests than the quarantine bound) goes out in one
 * submit and completes. */
static void test_full_batch(void **state)
{
	(void)state;
	int a = make_dev(0x42);
	struct dms_aio_batch *bt = dms_aio_batch_new();
	for (int i = 0; i < DMS_AIO_BATCH_MAX; i++)
		assert_non_null(dms_aio_batch_add(bt, a, DMS_AIO_READ, (bytes_t)(i % 16) * 512, 512, "a"));
	assert_null(dms_aio_batch_add(bt, a, DMS_AIO_READ, 0, 512, "a"));     /* full */
	assert_int_equal(dms_aio_batch_run(bt, 1000), 0);
	assert_int_equal(fake.submits, 1);
	for (int i = 0; i < DMS_AIO_BATCH_MAX; i++)
		assert_int_equal(dms_aio_batch_result(bt, (size_t)i), 512);
	dms_aio_batch_free(bt);
	close(a);
}

/* The device never answers in time, then answers late. */
static void test_timeout_quarantines_until_late_completion(void **state)
{
	(void)state;
	int a = make_dev(0xEE), b = make_dev(0x11);
	fake.answer = 0;
	struct dms_aio_batch *bt = dms_aio_batch_new();
	assert_non_null(dms_aio_batch_add(bt, a, DMS_AIO_READ, 0, 8192, "stuck"));
	assert_non_null(dms_aio_batch_add(bt, b, DMS_AIO_READ, 0, 4096, "fine"));
	assert_int_equal(dms_aio_batch_run(bt, 50), -ETIMEDOUT);
	assert_int_equal(dms_aio_batch_result(bt, 0), -ETIMEDOUT);
	assert_null(dms_aio_batch_buf(bt, 0));
	dms_aio_batch_free(bt);
	/* both were in flight: both quarantined, nothing freed */
	assert_int_equal(dms_aio_quarantined(), 2);
	assert_int_equal(dms_aio_set_ops(NULL), -EBUSY);
	assert_int_equal(dms_aio_shutdown(), -EBUSY);   /* io_destroy would block: not called */
	assert_int_equal(fake.destroys, 0);

	/* More I/O to the stuck device is refused without a submit. */
	int submits = fake.submits;
	struct dms_aio_batch *again = dms_aio_batch_new();
	assert_non_null(dms_aio_batch_add(again, a, DMS_AIO_READ, 0, 512, "stuck"));
	assert_int_equal(dms_aio_batch_run(again, 50), -EBUSY);
	assert_int_equal(dms_aio_batch_result(again, 0), -EBUSY);
	assert_int_equal(fake.submits, submits);
	dms_aio_batch_free(again);

	/* The late completion writes into the quarantined buffers (a heap
	 * use-after-free if they had been freed), then reap releases them. */
	fake_complete_all();
	assert_int_equal(dms_aio_reap(), 0);
	assert_int_equal(dms_aio_quarantined(), 0);

	/* The device is usable again, in the same context. */
	fake.answer = 1;
	again = dms_aio_batch_new();
	assert_non_null(dms_aio_batch_add(again, a, DMS_AIO_READ, 0, 512, "stuck"));
	assert_int_equal(dms_aio_batch_run(again, 50), 0);
	assert_int_equal(((uint8_t *)dms_aio_batch_buf(again, 0))[0], 0xEE);
	dms_aio_batch_free(again);
	assert_int_equal(dms_aio_shutdown(), 0);
	assert_int_equal(fake.setups, 1);
	assert_int_equal(fake.destroys, 1);          /* no context leaked by the timeout */
	close(a);
	close(b);
}

/* A completed request's buffer serves the next batch (no fresh pages to fault
 * in), zeroed again; a buffer the kernel may still write into never does. */
static void test_buffers_reused_never_while_in_flight(void **state)
{
	(void)state;
	int a = make_dev(0x5A);
	struct dms_aio_batch *bt = dms_aio_batch_new();
	uint8_t *first = dms_aio_batch_add(bt, a, DMS_AIO_READ, 0, 4096, "a");
	assert_non_null(first);
	assert_int_equal(dms_aio_batch_run(bt, 1000), 0);
	assert_int_equal(first[0], 0x5A);
	dms_aio_batch_free(bt);

	bt = dms_aio_batch_new();
	uint8_t *again = dms_aio_batch_add(bt, a, DMS_AIO_WRITE_FUA, 0, 4096, "a");
	assert_ptr_equal(again, first);              /* reused ... */
	for (size_t i = 0; i < 4096; i++)            /* ... and zeroed */
		assert_int_equal(again[i], 0);
	dms_aio_batch_free(bt);                      /* never ran: back to the cache */

	fake.answer = 0;                             /* now the device hangs */
	bt = dms_aio_batch_new();
	uint8_t *stuck = dms_aio_batch_add(bt, a, DMS_AIO_READ, 0, 4096, "a");
	assert_ptr_equal(stuck, first);
	assert_int_equal(dms_aio_batch_run(bt, 50), -ETIMEDOUT);
	dms_aio_batch_free(bt);                      /* quarantined with its buffer */
	int b = make_dev(0x6B);
	struct dms_aio_batch *other = dms_aio_batch_new();
	uint8_t *fresh = dms_aio_batch_add(other, b, DMS_AIO_READ, 0, 4096, "b");
	assert_non_null(fresh);
	assert_ptr_not_equal(fresh, stuck);          /* not the one in flight */
	dms_aio_batch_free(other);
	fake_complete_all();                         /* the late DMA lands in its own buffer */
	assert_int_equal(dms_aio_reap(), 0);
	fake.answer = 1;
	assert_int_equal(dms_aio_shutdown(), 0);     /* frees the cache too (ASan/valgrind: no leak) */
	close(a);
	close(b);
}

/* One of two requests misses the deadline: the other's result is usable, the
 * caller may keep the batch after the timeout, and a late completion that
 * arrives while the caller still owns it makes its buffer readable. */
static void test_partial_timeout(void **state)
{
	(void)state;
	int a = make_dev(0x33), b = make_dev(0x44);
	fake.answer = 0;
	struct dms_aio_batch *bt = dms_aio_batch_new();
	assert_non_null(dms_aio_batch_add(bt, a, DMS_AIO_READ, 0, 4096, "a"));
	assert_non_null(dms_aio_batch_add(bt, b, DMS_AIO_READ, 0, 4096, "b"));
	int r = dms_aio_batch_run(bt, 50);
	assert_int_equal(r, -ETIMEDOUT);
	assert_int_equal(fake.npending, 2);
	/* a answers late, while the caller still holds the batch */
	size_t keep = fake.npending;
	struct iocb *second = fake.pending[1];
	fake.npending = 1;
	fake_complete_all();
	fake.pending[0] = second;
	fake.npending = keep - 1;
	assert_int_equal(dms_aio_reap(), 0);
	assert_int_equal(dms_aio_batch_result(bt, 0), 4096);
	assert_int_equal(((uint8_t *)dms_aio_batch_buf(bt, 0))[0], 0x33);
	assert_int_equal(dms_aio_batch_result(bt, 1), -ETIMEDOUT);
	assert_null(dms_aio_batch_buf(bt, 1));         /* in flight: not to be read */
	dms_aio_batch_free(bt);
	assert_int_equal(dms_aio_quarantined(), 1);
	fake_complete_all();
	assert_int_equal(dms_aio_reap(), 0);
	close(a);
	close(b);
}

/* A signal during the wait does not abandon the I/O. */
static void test_eintr_keeps_waiting(void **state)
{
	(void)state;
	int a = make_dev(0x77);
	fake.eintr_left = 3;
	struct dms_aio_batch *bt = dms_aio_batch_new();
	assert_non_null(dms_aio_batch_add(bt, a, DMS_AIO_READ, 0, 512, "a"));
	assert_int_equal(dms_aio_batch_run(bt, 10000), 0);
	assert_int_equal(dms_aio_batch_result(bt, 0), 512);
	assert_int_equal(((uint8_t *)dms_aio_batch_buf(bt, 0))[0], 0x77);
	assert_int_equal(fake.getevents, 4);
	dms_aio_batch_free(bt);
	assert_int_equal(dms_aio_quarantined(), 0);
	close(a);
}

/* The quarantine is bounded: past DMS_AIO_QUARANTINE_MAX stuck requests, new
 * I/O is refused (even to healthy devices) instead of piling up. */
static void test_quarantine_is_bounded(void **state)
{
	(void)state;
	int fds[DMS_AIO_QUARANTINE_MAX + 1];
	fake.answer = 0;
	for (int i = 0; i < DMS_AIO_QUARANTINE_MAX; i++) {
		fds[i] = make_dev(i);
		struct dms_aio_batch *bt = dms_aio_batch_new();
		assert_non_null(dms_aio_batch_add(bt, fds[i], DMS_AIO_READ, 0, 512, "dev"));
		assert_int_equal(dms_aio_batch_run(bt, 10), -ETIMEDOUT);
		dms_aio_batch_free(bt);
	}
	assert_int_equal(dms_aio_quarantined(), DMS_AIO_QUARANTINE_MAX);
	fds[DMS_AIO_QUARANTINE_MAX] = make_dev(0);
	struct dms_aio_batch *bt = dms_aio_batch_new();
	assert_non_null(dms_aio_batch_add(bt, fds[DMS_AIO_QUARANTINE_MAX], DMS_AIO_READ, 0, 512, "healthy"));
	assert_int_equal(dms_aio_batch_run(bt, 10), -EBUSY);
	dms_aio_batch_free(bt);
	assert_int_equal(fake.npending, DMS_AIO_QUARANTINE_MAX);
	fake_complete_all();
	assert_int_equal(dms_aio_reap(), 0);
	for (int i = 0; i <= DMS_AIO_QUARANTINE_MAX; i++)
		close(fds[i]);
}

/* A hung device and the pool lock: a command whose I/O missed its deadline
 * cannot exit before the device answers (exit_aio waits), so it tells the
 * other processes (stuck.h). Another command then sends that device no I/O
 * at all (an immediate -EBUSY, no submit) instead of waiting out its own
 * deadline under the pool lock and hanging at exit in turn; once the owner
 * is gone, or its request completed, the device is used again. */
static void test_stuck_device_is_skipped_by_other_processes(void **state)
{
	(void)state;
	const char *dir = fake_stuck_dir;   /* fake_install's */
	char path[512];
	int a = make_dev(0x5A);
	struct stat st;
	assert_int_equal(fstat(a, &st), 0);
	snprintf(path, sizeof(path), "%s/%u:%u-%llu", dir, major(st.st_dev), minor(st.st_dev),
		 (unsigned long long)st.st_ino);

	/* this process: a write misses its deadline, a marker says so */
	fake.answer = 0;
	struct dms_aio_batch *bt = dms_aio_batch_new();
	uint8_t *w = dms_aio_batch_add(bt, a, DMS_AIO_WRITE_FUA, 0, 4096, "hung");
	assert_non_null(w);
	memset(w, 0xA5, 4096);
	assert_int_equal(dms_aio_batch_run(bt, 20), -ETIMEDOUT);
	dms_aio_batch_free(bt);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(dms_stuck_owner(st.st_dev, st.st_ino, NULL), 0);   /* ours: not "another" */
	fake_complete_all();
	assert_int_equal(dms_aio_reap(), 0);
	assert_int_equal(access(path, F_OK), -1);                   /* completed: gone */

	/* another process has an I/O stuck on the device */
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		dms_stuck_mark(st.st_dev, st.st_ino);
		(void)!write(ready[1], "x", 1);
		for (;;)
			pause();
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(dms_stuck_owner(st.st_dev, st.st_ino, NULL), child);
	fake.answer = 1;
	int submits = fake.submits;
	bt = dms_aio_batch_new();
	assert_non_null(dms_aio_batch_add(bt, a, DMS_AIO_READ, 0, 4096, "hung elsewhere"));
	assert_int_equal(dms_aio_batch_run(bt, 10000), -EBUSY);
	assert_int_equal(dms_aio_batch_result(bt, 0), -EBUSY);
	dms_aio_batch_free(bt);
	assert_int_equal(fake.submits, submits);                    /* nothing sent to it */

	/* the owner exits (its request completed): the marker is stale */
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	bt = dms_aio_batch_new();
	assert_non_null(dms_aio_batch_add(bt, a, DMS_AIO_READ, 0, 4096, "answers again"));
	assert_int_equal(dms_aio_batch_run(bt, 10000), 0);
	assert_int_equal(((uint8_t *)dms_aio_batch_buf(bt, 0))[0], 0xA5);   /* the late write landed */
	dms_aio_batch_free(bt);
	assert_int_equal(access(path, F_OK), -1);

	close(ready[0]);
	close(ready[1]);
	close(a);
	assert_int_equal(rmdir(dir), 0);    /* nothing left behind */
}

static void quiet(int level, const char *line, void *userdata)
{
	(void)level;
	(void)line;
	(void)userdata;
}

int main(void)
{
	log_set_sink(quiet, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batches_share_one_context, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_write_fua, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_bad_requests, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_full_batch, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_timeout_quarantines_until_late_completion, fake_install,
						fake_remove),
		cmocka_unit_test_setup_teardown(test_buffers_reused_never_while_in_flight, fake_install,
						fake_remove),
		cmocka_unit_test_setup_teardown(test_partial_timeout, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_eintr_keeps_waiting, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_quarantine_is_bounded, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_stuck_device_is_skipped_by_other_processes, fake_install,
						fake_remove),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
