/* Fuzz every EC2 Query API response shape the client parses (ec2/xml.c):
 * CreateVolume, DescribeVolumes (paginated), AttachVolume/DetachVolume,
 * DescribeInstances/DescribeInstanceAttribute block device mappings, the
 * <return> of DeleteVolume/ModifyInstanceAttribute, and the error document.
 *
 * Input: one selector byte, then the HTTP body. The selector picks the parser
 * (low 3 bits) and, for the error parser, the HTTP status (high bits), so each
 * input costs one libxml2 parse. */
#include "tests/fuzz/fuzz.h"

#include <errno.h>

#include "ec2/xml.h"

#define T(s) fuzz_terminated((s), sizeof(s))

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void check_volume(const struct ec2_volume *v)
{
	FUZZ_ASSERT(T(v->volume_id) && T(v->state) && T(v->availability_zone) && T(v->volume_type));
	FUZZ_ASSERT(T(v->tag_pool) && T(v->tag_instance));
	FUZZ_ASSERT(v->volume_id[0] && v->state[0]);
	FUZZ_ASSERT(v->n_attachments <= EC2_MAX_ATTACHMENTS);
	for (size_t i = 0; i < v->n_attachments; i++) {
		const struct ec2_attachment *a = &v->attachments[i];
		FUZZ_ASSERT(T(a->volume_id) && T(a->instance_id) && T(a->device) && T(a->state));
		FUZZ_ASSERT(a->state[0]);
	}
}

static void check_result(int r)
{
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -EFBIG || r == -ENOMEM || r == -ENOENT ||
		    r == -ENOSPC);
}

static const int STATUS[8] = { 400, 403, 429, 500, 503, 200, 0, 404 };

static void parse_error(const char *body, size_t len, int status)
{
	struct ec2_error e;
	memset(&e, 0x5a, sizeof(e));
	int r = ec2_xml_parse_error(body, len, status, &e);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG);
	FUZZ_ASSERT(T(e.code) && T(e.message) && T(e.request_id));
	FUZZ_ASSERT(printable(e.message) && printable(e.code) && printable(e.request_id));
	FUZZ_ASSERT(e.http_status == status);
	FUZZ_ASSERT(e.cls == ec2_classify(status, e.code));
	FUZZ_ASSERT(strcmp(ec2_err_class_name(e.cls), "unknown"));
	if (r)
		FUZZ_ASSERT(e.code[0] == '\0');
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const unsigned sel = data[0] & 7u, status = STATUS[data[0] >> 5];
	const size_t len = size - 1;
	char *body = (char *)fuzz_copy(data + 1, len);
	int r;

	switch (sel) {
	case 0: {
		static struct ec2_volume v;
		r = ec2_xml_parse_create_volume(body, len, &v);
		check_result(r);
		if (r == 0)
			check_volume(&v);
		break;
	}
	case 1:
	case 2: {
		/* room for 4 volumes, or for 1 (a page larger than the buffer) */
		static struct ec2_volume vols[4];
		const size_t max = sel == 1 ? 4 : 1;
		size_t n = 99, total = 99;
		char next[64];
		r = ec2_xml_parse_describe_volumes(body, len, vols, max, &n, &total, next, sizeof(next));
		check_result(r);
		if (r == 0) {
			FUZZ_ASSERT(n <= max && n <= total && T(next));
			FUZZ_ASSERT(n == (total < max ? total : max));
			for (size_t i = 0; i < n; i++)
				check_volume(&vols[i]);
		}
		break;
	}
	case 3: {
		struct ec2_attachment a;
		r = ec2_xml_parse_attach_volume(body, len, &a);
		check_result(r);
		if (r == 0)
			FUZZ_ASSERT(T(a.volume_id) && T(a.instance_id) && T(a.device) && T(a.state) && a.state[0]);
		break;
	}
	case 4: {
		struct ec2_bdm b[8];
		size_t n = 99;
		const size_t max = 1 + (len & 7u) % 8u; /* capacities 1..8 */
		r = ec2_xml_parse_block_device_mappings(body, len, b, max, &n);
		check_result(r);
		if (r == 0) {
			FUZZ_ASSERT(n <= max);
			for (size_t i = 0; i < n; i++)
				FUZZ_ASSERT(T(b[i].device_name) && T(b[i].volume_id) && T(b[i].state));
		}
		break;
	}
	case 5: {
		bool ret;
		r = ec2_xml_parse_return(body, len, &ret);
		check_result(r);
		break;
	}
	default:
		parse_error(body, len, (int)status);
		break;
	}
	free(body);
	return 0;
}
