/* device.c label I/O over the AIO seam (memfds as disks): one submit per
 * batch, writes through the caller's fd (never reopened by path), a stuck
 * read that keeps its buffer until the device answers, nothing written when a
 * label of the batch is invalid, and opens checked against st_rdev. The last
 * test runs the real libaio path on a file. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "dmscale/device.h"
#include "dmscale/log.h"
#include "dmscale/probe.h"
#include "tests/unit/fake_aio.h"

#define NDEV 3
#define DEV_BYTES (2 * MIB)

static void make_label(struct dms_label *l, uint32_t count, uint32_t index, uint64_t generation)
{
	memset(l, 0, sizeof(*l));
	l->version = DMS_LABEL_VERSION;
	l->generation = generation;
	for (int i = 0; i < 16; i++)
		l->pool_uuid[i] = (uint8_t)(0xA0 + i);
	snprintf(l->pool_name, sizeof(l->pool_name), "scratch");
	snprintf(l->fs_type, sizeof(l->fs_type), "ext4");
	l->target = DMS_TARGET_LINEAR;
	l->member_count = count;
	for (uint32_t i = 0; i < count; i++) {
		struct dms_member *m = &l->members[i];
		for (int j = 0; j < 16; j++)
			m->uuid[j] = (uint8_t)(i * 16 + (uint32_t)j + 1);
		snprintf(m->volume_id, sizeof(m->volume_id), "vol-%017x", 0xabc000u + i);
		m->size_bytes = DEV_BYTES;
		m->data_offset_bytes = MIB;
		m->data_bytes = MIB;
	}
	l->member_index = index;
	memcpy(l->member_uuid, l->members[index].uuid, 16);
}

/* A disk that can only be reached through its fd: the node does not exist. */
static void make_disk(struct dms_device *d, int i)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->node, sizeof(d->node), "/nonexistent/disk%d", i);
	d->devnum = makedev(250, (unsigned)i);
	d->size_bytes = DEV_BYTES;
	d->fd = memfd_create("disk", MFD_CLOEXEC);
	assert_true(d->fd >= 0);
	assert_int_equal(ftruncate(d->fd, DEV_BYTES), 0);
	d->fd_mode = DMS_DEV_RW;
}

static void test_batched_labels(void **state)
{
	(void)state;
	struct dms_device disks[NDEV], *devs[NDEV];
	struct dms_label *want = calloc(NDEV, sizeof(*want)), *got = calloc(NDEV, sizeof(*got));
	unsigned ok[NDEV];
	int res[NDEV];
	for (int i = 0; i < NDEV; i++) {
		make_disk(&disks[i], i);
		devs[i] = &disks[i];
		make_label(&want[i], NDEV, (uint32_t)i, 7);
	}
	assert_int_equal(dms_device_write_labels(devs, want, NDEV, 0), 0);
	assert_int_equal(fake.submits, 1);                 /* every copy A in one submit */
	assert_int_equal(dms_device_read_labels(devs, NDEV, got, ok, res), 0);
	for (int i = 0; i < NDEV; i++) {
		assert_int_equal(res[i], 0);
		assert_int_equal(ok[i], 1);                /* only A so far */
	}
	assert_int_equal(dms_device_write_labels(devs, want, NDEV, 1), 0);
	assert_int_equal(dms_device_read_labels(devs, NDEV, got, ok, res), 0);
	assert_int_equal(fake.submits, 4);                 /* one per batch, reads included */
	for (int i = 0; i < NDEV; i++) {
		assert_int_equal(res[i], 0);
		assert_int_equal(ok[i], 3);
		assert_int_equal(got[i].member_index, (uint32_t)i);
		assert_int_equal(got[i].generation, 7);
		assert_int_equal(disks[i].fd_mode, DMS_DEV_RW);   /* still open: no close, no udev change */
	}
	/* the single-device wrapper writes through the same fd too */
	make_label(&want[0], NDEV, 0, 8);
	assert_int_equal(dms_device_write_label(&disks[0], &want[0]), 0);
	assert_int_equal(dms_device_read_label(&disks[0], &got[0], &ok[0]), 0);
	assert_int_equal(got[0].generation, 8);
	assert_int_equal(ok[0], 3);
	assert_int_equal(fake.setups, 1);
	for (int i = 0; i < NDEV; i++)
		dms_device_close(&disks[i]);
	free(want);
	free(got);
}

static void test_invalid_label_writes_nothing(void **state)
{
	(void)state;
	struct dms_device disks[2], *devs[2];
	struct dms_label *l = calloc(2, sizeof(*l));
	for (int i = 0; i < 2; i++) {
		make_disk(&disks[i], i);
		devs[i] = &disks[i];
		make_label(&l[i], 2, (uint32_t)i, 3);
	}
	l[1].member_count = 0;   /* invalid */
	assert_int_equal(dms_device_write_labels(devs, l, 2, 0), -EINVAL);
	assert_int_equal(fake.submits, 0);
	uint8_t first[512], zero[512] = { 0 };
	assert_int_equal(pread(disks[0].fd, first, sizeof(first), 0), (ssize_t)sizeof(first));
	assert_memory_equal(first, zero, sizeof(zero));
	for (int i = 0; i < 2; i++)
		dms_device_close(&disks[i]);
	free(l);
}

/* A disk carrying a valid label (member 0 of a 1-member pool); the label
 * buffer is the caller's to free. */
static struct dms_label *labelled_disk(struct dms_device *d)
{
	struct dms_label *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	make_disk(d, 0);
	make_label(l, 1, 0, 1);
	assert_int_equal(dms_device_write_label(d, l), 0);
	return l;
}

/* The read never completes in time: -ETIMEDOUT, and the buffer the late
 * completion writes into is still allocated (ASan/valgrind would say). */
static void test_stuck_read(void **state)
{
	(void)state;
	struct dms_device d;
	struct dms_label *l = labelled_disk(&d);
	unsigned ok;
	fake.answer = 0;
	assert_int_equal(dms_device_read_label(&d, l, &ok), -ETIMEDOUT);
	assert_int_equal(dms_aio_quarantined(), 2);  /* its two copies: one request each */
	/* a rescan while it is stuck: refused at once, no second request */
	int submits = fake.submits;
	assert_int_equal(dms_device_read_label(&d, l, &ok), -EBUSY);
	assert_int_equal(fake.submits, submits);
	fake_complete_all();                 /* the device answers late */
	assert_int_equal(dms_aio_reap(), 0);
	fake.answer = 1;
	assert_int_equal(dms_device_read_label(&d, l, &ok), 0);
	assert_int_equal(ok, 3);
	dms_device_close(&d);
	free(l);
}

/* The last error logged (the refusal under test). */
static char last_error[2048];

static void keep_errors(int level, const char *line, void *userdata)
{
	(void)userdata;
	if (level == LOG_LVL_ERR)
		snprintf(last_error, sizeof(last_error), "%s", line);
}

static void quiet(int level, const char *line, void *userdata);

/* `dmscale attach DEV` (and init) on a device another dmscale process has
 * quarantined (stuck.h: its I/O to it missed its deadline, and it is still
 * alive): the label read is refused (-EBUSY, no I/O), and the refusal says
 * the device's I/O is stuck, in which process, since when, and what to do;
 * it used to say "holds a damaged dmscale label". */
static void test_stuck_elsewhere_is_not_a_damaged_label(void **state)
{
	(void)state;
	struct dms_device d;
	struct dms_label *l = calloc(1, sizeof(*l));
	unsigned ok;
	struct stat st;
	dev_t key_dev;
	ino_t key_ino;
	make_disk(&d, 0);
	make_label(l, 1, 0, 1);
	assert_int_equal(dms_device_write_label(&d, l), 0);
	assert_int_equal(fstat(d.fd, &st), 0);
	dms_stuck_key(&st, &key_dev, &key_ino);

	/* the other process: marks the device and lives until `hold` closes
	 * (here, or when this test process ends, whatever happens to it) */
	int ready[2], hold[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(hold), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char x;
		close(hold[1]);
		dms_stuck_mark(key_dev, key_ino);
		(void)!write(ready[1], "x", 1);
		(void)!read(hold[0], &x, 1);
		_exit(0);
	}
	close(hold[0]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	time_t since = 0;
	assert_int_equal(dms_stuck_owner(key_dev, key_ino, &since), child);
	/* the marker's mtime: with multigrain file timestamps (Linux 6.13+) it can
	 * be up to a clock tick ahead of time()'s coarse clock, so a second late */
	assert_true(since > 0 && since <= time(NULL) + 1);

	int submits = fake.submits;
	int r = dms_device_read_label(&d, l, &ok);
	assert_int_equal(r, -EBUSY);
	assert_int_equal(fake.submits, submits);            /* nothing sent to it */
	last_error[0] = '\0';
	log_set_sink(keep_errors, NULL);
	assert_int_equal(dms_device_label_refusal(&d, r, "repair or --force"), -EBUSY);
	log_set_sink(quiet, NULL);
	char pid[32], when[32];
	struct tm tm;
	snprintf(pid, sizeof(pid), "process %d", (int)child);
	strftime(when, sizeof(when), "since %Y-%m-%d %H:%M", gmtime_r(&since, &tm));
	assert_non_null(strstr(last_error, "I/O is stuck"));
	assert_non_null(strstr(last_error, pid));
	assert_non_null(strstr(last_error, when));
	assert_non_null(strstr(last_error, "Wait for the device"));
	assert_non_null(strstr(last_error, "ends when process"));
	assert_null(strstr(last_error, "holds a damaged"));
	/* any other read error still reads as a damaged label */
	assert_int_equal(dms_device_label_refusal(&d, -EBADMSG, "repair or --force"), -EBADMSG);

	/* the owner exits: the marker is stale (removed), the label reads again */
	close(hold[1]);
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(dms_device_read_label(&d, l, &ok), 0);
	close(ready[0]);
	close(ready[1]);
	dms_device_close(&d);
	free(l);
}

/* A device whose label read times out, or fails, is refused as one that
 * did not answer, or could not be read: never as "a damaged dmscale label",
 * and never with the --force advice that would overwrite it (a slow EBS
 * volume's pool member would be lost). Only contents errors are damage. */
static void test_unanswered_read_is_not_a_damaged_label(void **state)
{
	(void)state;
	struct dms_device d;
	struct dms_label *l = labelled_disk(&d);
	unsigned ok;
	fake.answer = 0;
	int r = dms_device_read_label(&d, l, &ok);
	assert_int_equal(r, -ETIMEDOUT);
	log_set_sink(keep_errors, NULL);
	last_error[0] = '\0';
	assert_int_equal(dms_device_label_refusal(&d, r, "use --force to overwrite"), -ETIMEDOUT);
	assert_non_null(strstr(last_error, "no answer within 10 s"));
	assert_null(strstr(last_error, "holds a damaged"));
	assert_null(strstr(last_error, "--force"));
	last_error[0] = '\0';
	assert_int_equal(dms_device_label_refusal(&d, -EIO, "use --force to overwrite"), -EIO);
	assert_non_null(strstr(last_error, "cannot be read"));
	assert_null(strstr(last_error, "--force"));
	assert_non_null(strstr(last_error, "not known to be damaged"));
	last_error[0] = '\0';
	assert_int_equal(dms_device_label_refusal(&d, -EPROTONOSUPPORT, "use --force to overwrite"),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(last_error, "newer format"));
	assert_null(strstr(last_error, "--force"));
	for (int e = 0; e < 5; e++) {                    /* the contents errors */
		static const int errs[] = { EBADMSG, EINVAL, EMSGSIZE, EUCLEAN, EBADMSG };
		last_error[0] = '\0';
		assert_int_equal(dms_device_label_refusal(&d, -errs[e], "use --force to overwrite"), -errs[e]);
		assert_non_null(strstr(last_error, "holds a damaged dmscale label"));
		assert_non_null(strstr(last_error, "use --force to overwrite"));
	}
	log_set_sink(quiet, NULL);
	fake_complete_all();                 /* the device answers late */
	assert_int_equal(dms_aio_reap(), 0);
	fake.answer = 1;
	dms_device_close(&d);
	free(l);
}

/* A small device has no label area: -ENODATA without any I/O. */
static void test_too_small(void **state)
{
	(void)state;
	struct dms_device d;
	struct dms_label *l = calloc(1, sizeof(*l));
	unsigned ok = 9;
	make_disk(&d, 0);
	d.size_bytes = 4096;
	assert_int_equal(dms_device_read_label(&d, l, &ok), -ENODATA);
	assert_int_equal(ok, 0);
	assert_int_equal(fake.submits, 0);
	dms_device_close(&d);
	free(l);
}

/* A node that now names another device than the one inspected is refused. */
static void test_open_checks_rdev(void **state)
{
	(void)state;
	char dir[] = "/tmp/dmscale-dev-XXXXXX", node[64], file[64];
	assert_non_null(mkdtemp(dir));
	snprintf(node, sizeof(node), "%s/loop0", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	struct dms_device d = { .fd = -1 };
	snprintf(d.node, sizeof(d.node), "%s", node);
	int skip = mknod(node, S_IFBLK | 0600, makedev(7, 0)) < 0;
	if (!skip) {
		d.devnum = makedev(7, 0);
		int r = dms_device_open_ro(&d);
		skip = r == -ENXIO || r == -ENODEV || r == -EACCES || r == -EPERM;
		if (!skip) {
			assert_int_equal(r, 0);
			dms_device_close(&d);
			d.devnum = makedev(7, 1);          /* inspected as loop1, node is loop0 */
			assert_int_equal(dms_device_open_ro(&d), -ESTALE);
			assert_int_equal(d.fd, -1);
			assert_int_equal(dms_device_open_checked(&d, DMS_DEV_RW), -ESTALE);
			assert_int_equal(d.fd, -1);
			char what[64];
			assert_int_equal(dms_probe_signatures_checked(node, makedev(7, 1), what, sizeof(what)),
					 -ESTALE);
		}
		unlink(node);
	}
	int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(d.node, sizeof(d.node), "%s", file);
	assert_int_equal(dms_device_open_ro(&d), -ENOTBLK);
	char what2[64];
	assert_int_equal(dms_probe_signatures_checked(file, makedev(7, 0), what2, sizeof(what2)), -ESTALE);
	unlink(file);
	rmdir(dir);
	if (skip)
		skip();
}

/* The real libaio path (O_DIRECT where the filesystem has it). */
static void test_real_libaio(void **state)
{
	(void)state;
	char path[] = "/var/tmp/dmscale-disk-XXXXXX";
	struct dms_device d;
	struct dms_label *l = calloc(2, sizeof(*l));
	unsigned ok;
	assert_int_equal(dms_aio_set_ops(NULL), 0);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, DEV_BYTES), 0);
	close(fd);
	memset(&d, 0, sizeof(d));
	snprintf(d.node, sizeof(d.node), "%s", path);
	d.size_bytes = DEV_BYTES;
	d.fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (d.fd < 0)
		d.fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(d.fd >= 0);
	d.fd_mode = DMS_DEV_RW;
	make_label(&l[0], 1, 0, 5);
	assert_int_equal(dms_device_write_label(&d, &l[0]), 0);
	assert_int_equal(dms_device_read_label(&d, &l[1], &ok), 0);
	assert_int_equal(ok, 3);
	assert_int_equal(l[1].generation, 5);
	assert_int_equal(dms_device_zero(&d, 0, 64 * KIB), 0);
	assert_int_equal(dms_device_read_label(&d, &l[1], &ok), 0);
	assert_int_equal(ok, 2);                              /* copy A zeroed, B left */
	dms_device_close(&d);
	unlink(path);
	assert_int_equal(dms_aio_shutdown(), 0);
	free(l);
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
		cmocka_unit_test_setup_teardown(test_batched_labels, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_invalid_label_writes_nothing, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_stuck_read, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_too_small, fake_install, fake_remove),
		cmocka_unit_test_setup_teardown(test_unanswered_read_is_not_a_damaged_label, fake_install,
						fake_remove),
		cmocka_unit_test_setup_teardown(test_stuck_elsewhere_is_not_a_damaged_label, fake_install,
						fake_remove),
		cmocka_unit_test(test_open_checks_rdev),
		cmocka_unit_test(test_real_libaio),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
