/* EC2 Query API response parsing (libxml2, XML_PARSE_NONET, no entity
 * expansion, no DTD loading) and error classification. Pure: input is the
 * response body. Element names are matched by local name (the EC2 namespace
 * is ignored) and by position: a volume's <status> is volumeSet/item/status,
 * an attachment's is volumeSet/item/attachmentSet/item/status. */
#ifndef DMSCALE_EC2_XML_H
#define DMSCALE_EC2_XML_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EC2_XML_MAX_BYTES (8u << 20) /* larger bodies are refused (-EFBIG) */
#define EC2_ID_MAX 32
#define EC2_STATE_MAX 16

enum ec2_err_class {
	EC2_ERR_NONE = 0,
	EC2_ERR_THROTTLE,    /* RequestLimitExceeded, Throttling, HTTP 429 … : back off, retry */
	EC2_ERR_RETRYABLE,   /* 5xx, InternalError, Unavailable, IncorrectState … : retry */
	EC2_ERR_CREDENTIALS, /* ExpiredToken, RequestExpired … : refresh credentials, retry */
	EC2_ERR_NOT_FOUND,   /* InvalidVolume.NotFound … : caller decides (eventual consistency) */
	EC2_ERR_LIMIT,       /* VolumeLimitExceeded, InsufficientVolumeCapacity, AttachmentLimitExceeded */
	EC2_ERR_FATAL,       /* UnauthorizedOperation, InvalidParameterValue, other 4xx */
};

struct ec2_error {
	int http_status;
	char code[64];
	char message[256];  /* control characters replaced, truncated */
	char request_id[64];
	enum ec2_err_class cls;
};

const char *ec2_err_class_name(enum ec2_err_class c);
enum ec2_err_class ec2_classify(int http_status, const char *code);

/* Parse an error document (<Response><Errors><Error><Code>…). On a body that
 * is not an error document, code is "" and the class comes from the status.
 * Always fills *out; returns 0, or -EBADMSG if the body was not parseable. */
int ec2_xml_parse_error(const char *body, size_t len, int http_status, struct ec2_error *out);

struct ec2_attachment {
	char volume_id[EC2_ID_MAX];
	char instance_id[EC2_ID_MAX];
	char device[EC2_ID_MAX];
	char state[EC2_STATE_MAX];      /* attaching | attached | detaching | detached | busy */
	bool delete_on_termination;
};

#define EC2_MAX_ATTACHMENTS 4
struct ec2_volume {
	char volume_id[EC2_ID_MAX];
	char state[EC2_STATE_MAX];      /* creating | available | in-use | deleting | deleted | error */
	uint64_t size_gib;
	char availability_zone[EC2_ID_MAX];
	char volume_type[EC2_STATE_MAX];
	bool encrypted;
	char tag_pool[64];              /* value of tag "dmscale:pool", "" if absent */
	char tag_instance[EC2_ID_MAX];  /* value of tag "dmscale:instance" */
	size_t n_attachments;
	struct ec2_attachment attachments[EC2_MAX_ATTACHMENTS];
};

struct ec2_bdm {
	char device_name[EC2_ID_MAX];
	char volume_id[EC2_ID_MAX];
	char state[EC2_STATE_MAX];
	bool delete_on_termination;
};

/* All: 0, -EBADMSG (malformed, wrong root, missing required element),
 * -EFBIG (too large), -ENOMEM. */
int ec2_xml_parse_create_volume(const char *body, size_t len, struct ec2_volume *out);
/* *n = number of items stored (at most max); *total = items in the document. */
int ec2_xml_parse_describe_volumes(const char *body, size_t len, struct ec2_volume *vols,
				   size_t max, size_t *n, size_t *total,
				   char *next_token, size_t next_token_len);
int ec2_xml_parse_attach_volume(const char *body, size_t len, struct ec2_attachment *out);
/* DescribeInstancesResponse or DescribeInstanceAttributeResponse: every
 * blockDeviceMapping/item of the (first) instance. */
int ec2_xml_parse_block_device_mappings(const char *body, size_t len, struct ec2_bdm *out,
					size_t max, size_t *n);
/* <return>true</return> of DeleteVolume, ModifyInstanceAttribute …; -EBADMSG if absent. */
int ec2_xml_parse_return(const char *body, size_t len, bool *ret);

#endif
