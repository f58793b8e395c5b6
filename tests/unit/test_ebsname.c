#include "tests/unit/unit.h"

#include <errno.h>
#include <string.h>

#include "dmscale/ebsname.h"

/* An Identify Controller buffer as an EBS volume on Nitro returns it. */
static void make_identify(uint8_t *id, uint16_t vid, const char *model, const char *vsname)
{
	memset(id, 0, NVME_IDENTIFY_BYTES);
	id[0] = (uint8_t)(vid & 0xff);
	id[1] = (uint8_t)(vid >> 8);
	memset(id + 4, ' ', 20);
	memcpy(id + 4, "vol0123456789abcdef0", 20);
	memset(id + 24, ' ', 40);
	memcpy(id + 24, model, strlen(model));
	if (vsname) {
		memset(id + EBS_VS_DEVNAME_OFFSET, ' ', EBS_VS_DEVNAME_BYTES);
		memcpy(id + EBS_VS_DEVNAME_OFFSET, vsname, strlen(vsname));
	}
}

static void test_ebs_names(void **state)
{
	(void)state;
	uint8_t id[NVME_IDENTIFY_BYTES];
	char out[64];

	make_identify(id, 0x1D0F, EBS_NVME_MODEL, "/dev/xvdba");
	assert_int_equal(dms_ebs_identify_devname(id, sizeof(id), out, sizeof(out)), 0);
	assert_string_equal(out, "/dev/xvdba");

	make_identify(id, 0x1D0F, EBS_NVME_MODEL, "sdf");   /* older AMIs store no /dev/ prefix */
	assert_int_equal(dms_ebs_identify_devname(id, sizeof(id), out, sizeof(out)), 0);
	assert_string_equal(out, "/dev/sdf");

	/* NUL padded instead of space padded */
	make_identify(id, 0x1D0F, EBS_NVME_MODEL, NULL);
	memcpy(id + EBS_VS_DEVNAME_OFFSET, "xvdbz", 5);
	assert_int_equal(dms_ebs_identify_devname(id, sizeof(id), out, sizeof(out)), 0);
	assert_string_equal(out, "/dev/xvdbz");
}

static void test_not_ebs(void **state)
{
	(void)state;
	uint8_t id[NVME_IDENTIFY_BYTES];
	char out[64];
	make_identify(id, 0x1B36, "QEMU NVMe Ctrl", "/dev/xvdba");          /* QEMU */
	assert_int_equal(dms_ebs_identify_devname(id, sizeof(id), out, sizeof(out)), -ENODATA);
	make_identify(id, 0x1D0F, "Amazon EC2 NVMe Instance Storage", "ephemeral0"); /* instance store */
	assert_int_equal(dms_ebs_identify_devname(id, sizeof(id), out, sizeof(out)), -ENODATA);
	make_identify(id, 0x1D0F, EBS_NVME_MODEL, NULL);                      /* empty area */
	assert_int_equal(dms_ebs_identify_devname(id, sizeof(id), out, sizeof(out)), -EBADMSG);
	make_identify(id, 0x1D0F, EBS_NVME_MODEL, "../etc/passwd");           /* hostile */
	assert_int_equal(dms_ebs_identify_devname(id, sizeof(id), out, sizeof(out)), -EBADMSG);
	make_identify(id, 0x1D0F, EBS_NVME_MODEL, "/dev/xvd ba");
	assert_int_equal(dms_ebs_identify_devname(id, sizeof(id), out, sizeof(out)), -EBADMSG);
	assert_int_equal(dms_ebs_identify_devname(id, 3100, out, sizeof(out)), -EMSGSIZE);
	make_identify(id, 0x1D0F, EBS_NVME_MODEL, "/dev/xvdba");
	assert_int_equal(dms_ebs_identify_devname(id, sizeof(id), out, 8), -ENAMETOOLONG);
}

static void test_matches(void **state)
{
	(void)state;
	assert_true(dms_ebs_name_matches("/dev/xvdba", "/dev/xvdba"));
	assert_true(dms_ebs_name_matches("/dev/xvdba", "xvdba"));
	assert_true(dms_ebs_name_matches("xvdf", "/dev/sdf"));
	assert_true(dms_ebs_name_matches("/dev/sdf", "xvdf"));
	assert_false(dms_ebs_name_matches("/dev/xvdba", "/dev/xvdb"));
	assert_false(dms_ebs_name_matches("/dev/xvdba", "/dev/nvme1n1"));
	assert_false(dms_ebs_name_matches("/dev/", "/dev/"));
	assert_false(dms_ebs_name_matches("/dev/xvd", "/dev/sd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ebs_names),
		cmocka_unit_test(test_not_ebs),
		cmocka_unit_test(test_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
