/* mountinfo.c (libmount) against fixture tables: a FUSE mount at a 5 KiB path,
 * a bind mount whose root is longer than 1023 bytes, the kernel's octal
 * escapes (\040, \134) and a backslash that is not an octal escape. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dmscale/device.h"
#include "dmscale/log.h"
#include "dmscale/mountinfo.h"

static char path[] = "/tmp/dmscale-mountinfo-XXXXXX";

static void write_fixture(const char *text)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	strcpy(path, "/tmp/dmscale-mountinfo-XXXXXX");
	return 0;
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

struct collected {
	int n;
	char targets[8][64];
};

static int collect(const struct dms_mount_entry *m, void *userdata)
{
	struct collected *c = userdata;
	if (c->n < 8)
		snprintf(c->targets[c->n], sizeof(c->targets[0]), "%s", m->target);
	c->n++;
	return 0;
}

/* A FUSE mount at a 5 KiB path is one mount, not two: the rest of its line
 * is not a mount of its own. */
static void test_long_fuse_line(void **state)
{
	(void)state;
	char *dir = repeat('d', 5 * 1024);
	char *text;
	assert_true(asprintf(&text,
			     "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
			     "40 22 0:50 / /home/u/%s rw,nosuid,nodev shared:5 - fuse.sshfs u@h:/ rw,user_id=1000\n"
			     "41 22 250:16 / /var/lib/docker rw,noatime shared:6 - ext4 /dev/mapper/dmscale-x rw\n",
			     dir) > 0);
	write_fixture(text);
	struct collected c = { 0 };
	assert_int_equal(dms_mountinfo_foreach(path, collect, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.targets[0], "/");
	assert_string_equal(c.targets[2], "/var/lib/docker");

	char mp[8192];
	assert_int_equal(dms_mountinfo_find_devnum(path, makedev(250, 16), mp, sizeof(mp)), 1);
	assert_string_equal(mp, "/var/lib/docker");
	assert_int_equal(dms_mountinfo_find_devnum(path, makedev(250, 32), mp, sizeof(mp)), 0);
	/* the long mount point comes back whole, or not at all */
	assert_int_equal(dms_mountinfo_find_devnum(path, makedev(0, 50), mp, sizeof(mp)), 1);
	assert_int_equal(strlen(mp), strlen("/home/u/") + 5 * 1024);
	char small[64];
	assert_int_equal(dms_mountinfo_find_devnum(path, makedev(0, 50), small, sizeof(small)), -ENAMETOOLONG);
	free(text);
	free(dir);
}

/* A bind mount of the pool's device with a root over 1023 bytes: its mount
 * point is the mount point, not the end of the root. */
static void test_long_root(void **state)
{
	(void)state;
	char *root = repeat('r', 1500);
	char *text;
	assert_true(asprintf(&text, "50 1 250:16 /%s /mnt/bind rw shared:7 - ext4 /dev/mapper/dmscale-x rw\n",
			     root) > 0);
	write_fixture(text);
	char mp[4096];
	assert_int_equal(dms_mountinfo_find_devnum(path, makedev(250, 16), mp, sizeof(mp)), 1);
	assert_string_equal(mp, "/mnt/bind");
	free(text);
	free(root);
}

static void test_escapes(void **state)
{
	(void)state;
	write_fixture("60 1 250:1 / /mnt/a\\040b rw - ext4 /dev/x rw\n"
		      "61 1 250:2 / /mnt/back\\134slash rw - ext4 /dev/y rw\n"
		      "62 1 250:3 / /mnt/not\\1zzoctal rw - ext4 /dev/z rw\n"
		      "63 1 250:4 / /mnt/tab\\011x rw - ext4 /dev/w rw\n");
	char mp[256];
	assert_int_equal(dms_mountinfo_find_devnum(path, makedev(250, 1), mp, sizeof(mp)), 1);
	assert_string_equal(mp, "/mnt/a b");
	assert_int_equal(dms_mountinfo_find_devnum(path, makedev(250, 2), mp, sizeof(mp)), 1);
	assert_string_equal(mp, "/mnt/back\\slash");
	assert_int_equal(dms_mountinfo_find_devnum(path, makedev(250, 3), mp, sizeof(mp)), 1);
	assert_string_equal(mp, "/mnt/not\\1zzoctal");   /* not an escape: kept as is */
	assert_int_equal(dms_mountinfo_find_devnum(path, makedev(250, 4), mp, sizeof(mp)), 1);
	assert_string_equal(mp, "/mnt/tab\tx");
}

/* dms_device_is_mounted_in: a mount of the disk counts; FUSE (major 0) and
 * other disks do not. */
static void test_device_is_mounted(void **state)
{
	(void)state;
	char *dir = repeat('e', 5000);
	char *text;
	assert_true(asprintf(&text,
			     "22 1 253:0 / / rw - ext4 /dev/vda rw\n"
			     "40 22 0:50 / /home/u/%s rw - fuse.x u@h:/ rw\n"
			     "41 22 250:16 / /mnt/x rw - ext4 /dev/x rw\n", dir) > 0);
	write_fixture(text);
	struct dms_device d = { .fd = -1, .devnum = makedev(250, 16) };
	assert_int_equal(dms_device_is_mounted_in(&d, path), 1);
	d.devnum = makedev(250, 48);
	assert_int_equal(dms_device_is_mounted_in(&d, path), 0);
	d.devnum = makedev(0, 50);   /* never a disk: virtual filesystems are skipped */
	assert_int_equal(dms_device_is_mounted_in(&d, path), 0);
	free(text);
	free(dir);
}

/* Two filesystems stacked at one mount point: the top one is what is there. */
static void test_find_target(void **state)
{
	(void)state;
	write_fixture("22 1 253:0 / / rw - ext4 /dev/vda rw\n"
		      "70 22 250:16 / /nonexistent-dmscale/docker rw - ext4 /dev/mapper/dmscale-scratch rw\n"
		      "71 70 250:32 / /nonexistent-dmscale/docker rw - xfs /dev/mapper/dmscale-other rw\n"
		      "72 22 250:48 / /nonexistent-dmscale/docker2 rw - xfs /dev/mapper/dmscale-x rw\n");
	dev_t dev = 0;
	char src[64];
	assert_int_equal(dms_mountinfo_find_target(path, "/nonexistent-dmscale/docker", &dev, src, sizeof(src)), 1);
	assert_int_equal(dev, makedev(250, 32));
	assert_string_equal(src, "/dev/mapper/dmscale-other");
	assert_int_equal(dms_mountinfo_find_target(path, "/nonexistent-dmscale/doc", &dev, NULL, 0), 0);
	assert_int_equal(dms_mountinfo_find_target(path, "/nonexistent-dmscale/docker", &dev, src, 8),
			 -ENAMETOOLONG);
	assert_int_equal(dms_mountinfo_find_target(path, "/", &dev, NULL, 0), 1);
	assert_int_equal(dev, makedev(253, 0));
}

static void test_unreadable(void **state)
{
	(void)state;
	struct collected c = { 0 };
	assert_true(dms_mountinfo_foreach("/nonexistent/mountinfo", collect, &c) < 0);
	/* the live table parses too */
	assert_int_equal(dms_mountinfo_foreach(NULL, collect, &c), 0);
	assert_true(c.n > 0);
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
		cmocka_unit_test_teardown(test_long_fuse_line, teardown),
		cmocka_unit_test_teardown(test_long_root, teardown),
		cmocka_unit_test_teardown(test_escapes, teardown),
		cmocka_unit_test_teardown(test_device_is_mounted, teardown),
		cmocka_unit_test_teardown(test_find_target, teardown),
		cmocka_unit_test(test_unreadable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
