/* EC2 response parsing and error classification, including hostile input. */
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2/xml.h"

#define NS "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""
#define P(s) s, strlen(s)

static void test_create_volume(void **state)
{
	(void)state;
	const char *x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<CreateVolumeResponse " NS ">\n"
		"  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>\n"
		"  <volumeId>vol-1234567890abcdef0</volumeId>\n  <size>80</size>\n"
		"  <snapshotId/>\n  <availabilityZone>us-east-1a</availabilityZone>\n"
		"  <status>creating</status>\n  <createTime>2016-08-29T18:52:32.724Z</createTime>\n"
		"  <volumeType>gp3</volumeType>\n  <encrypted>true</encrypted>\n"
		"  <tagSet><item><key>dmscale:pool</key><value>docker</value></item></tagSet>\n"
		"</CreateVolumeResponse>";
	struct ec2_volume v;
	assert_int_equal(ec2_xml_parse_create_volume(P(x), &v), 0);
	assert_string_equal(v.volume_id, "vol-1234567890abcdef0");
	assert_string_equal(v.state, "creating");
	assert_int_equal(v.size_gib, 80);
	assert_string_equal(v.availability_zone, "us-east-1a");
	assert_string_equal(v.volume_type, "gp3");
	assert_true(v.encrypted);
	assert_string_equal(v.tag_pool, "docker");
	assert_int_equal(v.n_attachments, 0);

	/* wrong root / missing id / bad numbers */
	assert_int_equal(ec2_xml_parse_create_volume(P("<AttachVolumeResponse><volumeId>vol-1</volumeId></AttachVolumeResponse>"), &v), -EBADMSG);
	assert_int_equal(ec2_xml_parse_create_volume(P("<CreateVolumeResponse><status>creating</status></CreateVolumeResponse>"), &v), -EBADMSG);
	assert_int_equal(ec2_xml_parse_create_volume(P("<CreateVolumeResponse><volumeId>vol-1</volumeId><status>x</status><size>-1</size></CreateVolumeResponse>"), &v), -EBADMSG);
	assert_int_equal(ec2_xml_parse_create_volume(P("<CreateVolumeResponse><volumeId>vol-1</volumeId><status>x</status><size>99999999999999999999999</size></CreateVolumeResponse>"), &v), -EBADMSG);
	assert_int_equal(ec2_xml_parse_create_volume(P("<CreateVolumeResponse><volumeId>vol-1</volumeId><status>x</status><encrypted>yes</encrypted></CreateVolumeResponse>"), &v), -EBADMSG);
	/* id longer than the buffer is refused, not truncated */
	assert_int_equal(ec2_xml_parse_create_volume(P("<CreateVolumeResponse><volumeId>vol-0123456789abcdef0123456789abcdef</volumeId><status>x</status></CreateVolumeResponse>"), &v), -EBADMSG);
}

/* Volume status and attachment status share the element name <status>. */
static const char *DESCRIBE =
	"<DescribeVolumesResponse " NS ">\n"
	" <requestId>r</requestId>\n"
	" <volumeSet>\n"
	"  <item>\n"
	"   <volumeId>vol-0000000000000000a</volumeId><size>100</size>\n"
	"   <availabilityZone>us-east-1a</availabilityZone>\n"
	"   <attachmentSet><item><volumeId>vol-0000000000000000a</volumeId>"
	"<instanceId>i-0123456789abcdef0</instanceId><device>/dev/xvdba</device>"
	"<status>attaching</status><attachTime>2016-08-29T18:52:32.724Z</attachTime>"
	"<deleteOnTermination>false</deleteOnTermination></item></attachmentSet>\n"
	"   <status>in-use</status>\n"
	"   <tagSet><item><key>Name</key><value>x</value></item>"
	"<item><key>dmscale:instance</key><value>i-0123456789abcdef0</value></item></tagSet>\n"
	"  </item>\n"
	"  <item><volumeId>vol-0000000000000000b</volumeId><size>5</size><status>available</status>"
	"<attachmentSet/></item>\n"
	" </volumeSet>\n"
	" <nextToken>abc/def=</nextToken>\n"
	"</DescribeVolumesResponse>";

static void test_describe_volumes(void **state)
{
	(void)state;
	struct ec2_volume v[4];
	size_t n, total;
	char tok[64];
	assert_int_equal(ec2_xml_parse_describe_volumes(P(DESCRIBE), v, 4, &n, &total, tok, sizeof(tok)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(total, 2);
	assert_string_equal(v[0].state, "in-use");
	assert_int_equal(v[0].n_attachments, 1);
	assert_string_equal(v[0].attachments[0].state, "attaching");
	assert_string_equal(v[0].attachments[0].device, "/dev/xvdba");
	assert_string_equal(v[0].attachments[0].instance_id, "i-0123456789abcdef0");
	assert_false(v[0].attachments[0].delete_on_termination);
	assert_string_equal(v[0].tag_instance, "i-0123456789abcdef0");
	assert_string_equal(v[0].tag_pool, "");
	assert_string_equal(v[1].state, "available");
	assert_int_equal(v[1].n_attachments, 0);
	assert_string_equal(tok, "abc/def=");

	/* capacity smaller than the document: counted, not overflowed */
	assert_int_equal(ec2_xml_parse_describe_volumes(P(DESCRIBE), v, 1, &n, &total, NULL, 0), 0);
	assert_int_equal(n, 1);
	assert_int_equal(total, 2);

	/* empty set */
	assert_int_equal(ec2_xml_parse_describe_volumes(P("<DescribeVolumesResponse><volumeSet/></DescribeVolumesResponse>"), v, 4, &n, &total, tok, sizeof(tok)), 0);
	assert_int_equal(n, 0);
	assert_string_equal(tok, "");
	/* missing volumeSet, missing volume status */
	assert_int_equal(ec2_xml_parse_describe_volumes(P("<DescribeVolumesResponse/>"), v, 4, &n, NULL, NULL, 0), -EBADMSG);
	assert_int_equal(ec2_xml_parse_describe_volumes(P("<DescribeVolumesResponse><volumeSet><item><volumeId>vol-1</volumeId></item></volumeSet></DescribeVolumesResponse>"), v, 4, &n, NULL, NULL, 0), -EBADMSG);
	/* attachment status must be there too (it is not the volume's) */
	assert_int_equal(ec2_xml_parse_describe_volumes(P("<DescribeVolumesResponse><volumeSet><item><volumeId>vol-1</volumeId><status>in-use</status>"
		"<attachmentSet><item><device>/dev/x</device></item></attachmentSet></item></volumeSet></DescribeVolumesResponse>"), v, 4, &n, NULL, NULL, 0), -EBADMSG);
	/* too many attachments for the struct */
	char big[2048] = "<DescribeVolumesResponse><volumeSet><item><volumeId>vol-1</volumeId><status>in-use</status><attachmentSet>";
	for (int i = 0; i < 5; i++)
		strcat(big, "<item><status>attached</status></item>");
	strcat(big, "</attachmentSet></item></volumeSet></DescribeVolumesResponse>");
	assert_int_equal(ec2_xml_parse_describe_volumes(P(big), v, 4, &n, NULL, NULL, 0), -EBADMSG);
}

static void test_attach_and_return(void **state)
{
	(void)state;
	struct ec2_attachment a;
	const char *x = "<AttachVolumeResponse " NS "><requestId>r</requestId>"
		"<volumeId>vol-1234567890abcdef0</volumeId><instanceId>i-1234567890abcdef0</instanceId>"
		"<device>/dev/xvdbc</device><status>attaching</status><attachTime>t</attachTime></AttachVolumeResponse>";
	assert_int_equal(ec2_xml_parse_attach_volume(P(x), &a), 0);
	assert_string_equal(a.state, "attaching");
	assert_string_equal(a.device, "/dev/xvdbc");
	assert_int_equal(ec2_xml_parse_attach_volume(P("<AttachVolumeResponse><status>attaching</status></AttachVolumeResponse>"), &a), -EBADMSG);

	bool ret;
	assert_int_equal(ec2_xml_parse_return(P("<ModifyInstanceAttributeResponse " NS "><requestId>r</requestId><return>true</return></ModifyInstanceAttributeResponse>"), &ret), 0);
	assert_true(ret);
	assert_int_equal(ec2_xml_parse_return(P("<DeleteVolumeResponse><return>false</return></DeleteVolumeResponse>"), &ret), 0);
	assert_false(ret);
	assert_int_equal(ec2_xml_parse_return(P("<DeleteVolumeResponse/>"), &ret), -EBADMSG);
	assert_int_equal(ec2_xml_parse_return(P("<DeleteVolumeResponse><return>maybe</return></DeleteVolumeResponse>"), &ret), -EBADMSG);
}

static void test_bdm(void **state)
{
	(void)state;
	const char *di = "<DescribeInstancesResponse " NS "><requestId>r</requestId><reservationSet><item>"
		"<reservationId>r-1</reservationId><instancesSet><item><instanceId>i-1234567890abcdef0</instanceId>"
		"<rootDeviceName>/dev/xvda</rootDeviceName><blockDeviceMapping>"
		"<item><deviceName>/dev/xvda</deviceName><ebs><volumeId>vol-00000000000000001</volumeId>"
		"<status>attached</status><deleteOnTermination>true</deleteOnTermination></ebs></item>"
		"<item><deviceName>/dev/xvdba</deviceName><ebs><volumeId>vol-00000000000000002</volumeId>"
		"<status>attaching</status><deleteOnTermination>false</deleteOnTermination></ebs></item>"
		"</blockDeviceMapping></item></instancesSet></item></reservationSet></DescribeInstancesResponse>";
	struct ec2_bdm b[4];
	size_t n;
	assert_int_equal(ec2_xml_parse_block_device_mappings(P(di), b, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(b[0].device_name, "/dev/xvda");
	assert_true(b[0].delete_on_termination);
	assert_string_equal(b[1].volume_id, "vol-00000000000000002");
	assert_string_equal(b[1].state, "attaching");
	assert_false(b[1].delete_on_termination);
	assert_int_equal(ec2_xml_parse_block_device_mappings(P(di), b, 1, &n), -ENOSPC);

	const char *dia = "<DescribeInstanceAttributeResponse><instanceId>i-1</instanceId><blockDeviceMapping>"
		"<item><deviceName>/dev/xvdbb</deviceName><ebs><volumeId>vol-3</volumeId><status>attached</status>"
		"<deleteOnTermination>true</deleteOnTermination></ebs></item></blockDeviceMapping></DescribeInstanceAttributeResponse>";
	assert_int_equal(ec2_xml_parse_block_device_mappings(P(dia), b, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_true(b[0].delete_on_termination);
	assert_int_equal(ec2_xml_parse_block_device_mappings(P("<DescribeInstancesResponse><reservationSet/></DescribeInstancesResponse>"), b, 4, &n), -ENOENT);
	assert_int_equal(ec2_xml_parse_block_device_mappings(P("<Other/>"), b, 4, &n), -EBADMSG);
}

static void test_errors(void **state)
{
	(void)state;
	struct ec2_error e;
	const char *x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
		"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors>"
		"<RequestID>d1f0e1b2-1234</RequestID></Response>";
	assert_int_equal(ec2_xml_parse_error(P(x), 503, &e), 0);
	assert_string_equal(e.code, "RequestLimitExceeded");
	assert_string_equal(e.message, "Request limit exceeded.");
	assert_string_equal(e.request_id, "d1f0e1b2-1234");
	assert_int_equal(e.cls, EC2_ERR_THROTTLE);
	assert_string_equal(ec2_err_class_name(e.cls), "throttled");

	assert_int_equal(ec2_classify(403, "UnauthorizedOperation"), EC2_ERR_FATAL);
	assert_int_equal(ec2_classify(400, "InvalidParameterValue"), EC2_ERR_FATAL);
	assert_int_equal(ec2_classify(400, "VolumeLimitExceeded"), EC2_ERR_LIMIT);
	assert_int_equal(ec2_classify(400, "InsufficientVolumeCapacity"), EC2_ERR_LIMIT);
	assert_int_equal(ec2_classify(400, "AttachmentLimitExceeded"), EC2_ERR_LIMIT);
	assert_int_equal(ec2_classify(400, "IncorrectState"), EC2_ERR_RETRYABLE);
	assert_int_equal(ec2_classify(500, "InternalError"), EC2_ERR_RETRYABLE);
	assert_int_equal(ec2_classify(503, "Unavailable"), EC2_ERR_RETRYABLE);
	assert_int_equal(ec2_classify(400, "Throttling"), EC2_ERR_THROTTLE);
	assert_int_equal(ec2_classify(400, "InvalidVolume.NotFound"), EC2_ERR_NOT_FOUND);
	assert_int_equal(ec2_classify(400, ".NotFound"), EC2_ERR_FATAL);
	assert_int_equal(ec2_classify(400, "RequestExpired"), EC2_ERR_CREDENTIALS);
	assert_int_equal(ec2_classify(502, ""), EC2_ERR_RETRYABLE);
	assert_int_equal(ec2_classify(429, NULL), EC2_ERR_THROTTLE);
	assert_int_equal(ec2_classify(0, NULL), EC2_ERR_RETRYABLE); /* transport failure */
	assert_int_equal(ec2_classify(404, NULL), EC2_ERR_FATAL);
	assert_int_equal(ec2_classify(200, NULL), EC2_ERR_NONE);

	/* unparseable error bodies: class from the HTTP status */
	assert_int_equal(ec2_xml_parse_error(P("<html>502 Bad Gateway"), 502, &e), -EBADMSG);
	assert_int_equal(e.cls, EC2_ERR_RETRYABLE);
	assert_string_equal(e.code, "");
	assert_int_equal(ec2_xml_parse_error(NULL, 0, 400, &e), -EBADMSG);
	assert_int_equal(e.cls, EC2_ERR_FATAL);
	/* control characters in messages are neutralised (log injection) */
	assert_int_equal(ec2_xml_parse_error(P("<Response><Errors><Error><Code>X</Code><Message>a&#10;b\tc</Message></Error></Errors></Response>"), 400, &e), 0);
	assert_string_equal(e.message, "a?b?c");
	/* over-long message truncated, not overflowed */
	char *big = malloc(10000);
	strcpy(big, "<Response><Errors><Error><Code>X</Code><Message>");
	size_t o = strlen(big);
	memset(big + o, 'm', 5000);
	strcpy(big + o + 5000, "</Message></Error></Errors><RequestID>r</RequestID></Response>");
	assert_int_equal(ec2_xml_parse_error(P(big), 400, &e), 0);
	assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
	assert_string_equal(e.request_id, "r");
	free(big);
}

static void test_hostile(void **state)
{
	(void)state;
	struct ec2_volume v;
	/* malformed, truncated, binary */
	const char *bad[] = {
		"", "<", "<CreateVolumeResponse>", "<CreateVolumeResponse><volumeId>vol-1</volumeId>",
		"not xml at all", "<CreateVolumeResponse><volumeId>vol-1</volumeid></CreateVolumeResponse>",
		"\x00\x01\x02", "<?xml version=\"1.0\"?>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ec2_xml_parse_create_volume(bad[i], strlen(bad[i]) + (i == 6 ? 3 : 0), &v), -EBADMSG);

	/* billion laughs and external entities: any DTD is refused */
	const char *lol = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
		"<CreateVolumeResponse><volumeId>&c;</volumeId><status>x</status></CreateVolumeResponse>";
	assert_int_equal(ec2_xml_parse_create_volume(P(lol), &v), -EBADMSG);
	const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<CreateVolumeResponse><volumeId>&x;</volumeId><status>x</status></CreateVolumeResponse>";
	assert_int_equal(ec2_xml_parse_create_volume(P(xxe), &v), -EBADMSG);
	struct ec2_error e;
	assert_int_equal(ec2_xml_parse_error(P(xxe), 400, &e), -EBADMSG);
	assert_string_equal(e.code, "");

	/* oversized body refused before parsing */
	assert_int_equal(ec2_xml_parse_create_volume("<x/>", (size_t)EC2_XML_MAX_BYTES + 1, &v), -EFBIG);

	/* deep nesting: libxml2's depth limit rejects it, no crash */
	size_t depth = 100000;
	char *deep = malloc(depth * 7 + 64);
	char *p = deep;
	p += sprintf(p, "<CreateVolumeResponse>");
	for (size_t i = 0; i < depth; i++)
		p += sprintf(p, "<a>");
	*p = '\0';
	assert_int_equal(ec2_xml_parse_create_volume(deep, strlen(deep), &v), -EBADMSG);
	free(deep);

	/* elements in the wrong place are not picked up */
	assert_int_equal(ec2_xml_parse_create_volume(P("<CreateVolumeResponse><x><volumeId>vol-1</volumeId></x><status>s</status></CreateVolumeResponse>"), &v), -EBADMSG);
	/* CDATA is fine; comments ignored */
	assert_int_equal(ec2_xml_parse_create_volume(P("<CreateVolumeResponse><volumeId><![CDATA[vol-1]]><!-- c --></volumeId><status>s</status></CreateVolumeResponse>"), &v), 0);
	assert_string_equal(v.volume_id, "vol-1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_volume),
		cmocka_unit_test(test_describe_volumes),
		cmocka_unit_test(test_attach_and_return),
		cmocka_unit_test(test_bdm),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
