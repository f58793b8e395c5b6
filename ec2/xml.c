/* EC2 response parsing. See xml.h. */
#include "ec2/xml.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

/* ---- classification ---- */
static const char *const throttle_codes[] = {
	"RequestLimitExceeded", "Throttling", "ThrottlingException", "RequestThrottled",
	"RequestThrottledException", "TooManyRequestsException", "EC2ThrottledException",
	"PriorRequestNotComplete", "SlowDown", "BandwidthLimitExceeded",
	"ProvisionedThroughputExceededException", NULL,
};
static const char *const retry_codes[] = {
	"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable",
	"RequestTimeout", "RequestTimeoutException", "IncorrectState", "ConcurrentTagAccess",
	NULL,
};
static const char *const cred_codes[] = {
	"ExpiredToken", "ExpiredTokenException", "RequestExpired", "RequestInTheFuture",
	NULL,
};
static const char *const limit_codes[] = {
	"VolumeLimitExceeded", "InsufficientVolumeCapacity", "AttachmentLimitExceeded",
	"MaxIOPSLimitExceeded", "VolumeIOPSLimit", "ResourceLimitExceeded",
	"InsufficientCapacity", NULL,
};

static bool in_list(const char *const *l, const char *code)
{
	for (; *l; l++)
		if (!strcmp(*l, code))
			return true;
	return false;
}

enum ec2_err_class ec2_classify(int http_status, const char *code)
{
	if (code && *code) {
		if (in_list(throttle_codes, code))
			return EC2_ERR_THROTTLE;
		if (in_list(retry_codes, code))
			return EC2_ERR_RETRYABLE;
		if (in_list(cred_codes, code))
			return EC2_ERR_CREDENTIALS;
		if (in_list(limit_codes, code))
			return EC2_ERR_LIMIT;
		size_t n = strlen(code);
		if (n > 9 && !strcmp(code + n - 9, ".NotFound"))
			return EC2_ERR_NOT_FOUND;
	}
	if (http_status >= 200 && http_status < 300 && !(code && *code))
		return EC2_ERR_NONE;
	if (http_status == 429)
		return EC2_ERR_THROTTLE;
	if (http_status >= 500 || http_status == 408 || http_status <= 0)
		return EC2_ERR_RETRYABLE;
	return EC2_ERR_FATAL; /* UnauthorizedOperation, AuthFailure, Invalid*, other 4xx */
}

const char *ec2_err_class_name(enum ec2_err_class c)
{
	switch (c) {
	case EC2_ERR_NONE: return "none";
	case EC2_ERR_THROTTLE: return "throttled";
	case EC2_ERR_RETRYABLE: return "retryable";
	case EC2_ERR_CREDENTIALS: return "credentials";
	case EC2_ERR_NOT_FOUND: return "not-found";
	case EC2_ERR_LIMIT: return "limit";
	case EC2_ERR_FATAL: return "fatal";
	}
	return "unknown";
}

/* ---- libxml2 helpers ---- */
static int parse_doc(const char *body, size_t len, xmlDoc **out)
{
	*out = NULL;
	if (!body || len == 0)
		return -EBADMSG;
	if (len > EC2_XML_MAX_BYTES)
		return -EFBIG;
	/* No XML_PARSE_NOENT (entities are not substituted), no DTD loading,
	 * no network; errors are not printed. */
	xmlDoc *d = xmlReadMemory(body, (int)len, "ec2.xml", NULL,
				  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!d)
		return -EBADMSG;
	/* EC2 never sends a DTD; refusing one rules out entity tricks. */
	if (d->intSubset || d->extSubset || !xmlDocGetRootElement(d)) {
		xmlFreeDoc(d);
		return -EBADMSG;
	}
	*out = d;
	return 0;
}

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static xmlNode *child(const xmlNode *p, const char *name)
{
	if (!p)
		return NULL;
	for (xmlNode *c = p->children; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* Copy the direct text of an element. Control characters become '?'.
 * Returns 0, -ENOENT (no element), -E2BIG (truncated). */
static int text(const xmlNode *n, char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	if (!n)
		return -ENOENT;
	size_t o = 0;
	int r = 0;
	for (xmlNode *c = n->children; c; c = c->next) {
		if (c->type == XML_ENTITY_REF_NODE)
			return -EBADMSG;
		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
			continue;
		for (const xmlChar *p = c->content; p && *p; p++) {
			if (o + 1 >= len) {
				r = -E2BIG;
				break;
			}
			buf[o++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
		}
	}
	if (len)
		buf[o < len ? o : len - 1] = '\0';
	return r;
}

/* Required identifier-like field: must exist, fit and be non-empty. */
static int req_text(const xmlNode *p, const char *name, char *buf, size_t len)
{
	int r = text(child(p, name), buf, len);
	if (r < 0 || !buf[0])
		return -EBADMSG;
	return 0;
}

static int opt_text(const xmlNode *p, const char *name, char *buf, size_t len)
{
	int r = text(child(p, name), buf, len);
	return r == -ENOENT ? 0 : r < 0 ? -EBADMSG : 0;
}

static int opt_u64(const xmlNode *p, const char *name, uint64_t *v)
{
	char b[32];
	int r = text(child(p, name), b, sizeof(b));
	if (r == -ENOENT)
		return 0;
	if (r < 0 || !b[0])
		return -EBADMSG;
	uint64_t x = 0;
	for (const char *c = b; *c; c++) {
		if (*c < '0' || *c > '9' || x > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		x = x * 10 + (uint64_t)(*c - '0');
	}
	*v = x;
	return 0;
}

static int opt_bool(const xmlNode *p, const char *name, bool *v)
{
	char b[8];
	int r = text(child(p, name), b, sizeof(b));
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return -EBADMSG;
	if (!strcmp(b, "true"))
		*v = true;
	else if (!strcmp(b, "false"))
		*v = false;
	else
		return -EBADMSG;
	return 0;
}

static int root_of(const char *body, size_t len, const char *root_name, xmlDoc **doc, xmlNode **root)
{
	int r = parse_doc(body, len, doc);
	if (r < 0)
		return r;
	*root = xmlDocGetRootElement(*doc);
	if (!is(*root, root_name)) {
		xmlFreeDoc(*doc);
		*doc = NULL;
		return -EBADMSG;
	}
	return 0;
}

/* ---- errors ---- */
int ec2_xml_parse_error(const char *body, size_t len, int http_status, struct ec2_error *out)
{
	memset(out, 0, sizeof(*out));
	out->http_status = http_status;
	xmlDoc *doc = NULL;
	int r = parse_doc(body, len, &doc);
	if (r == 0) {
		xmlNode *root = xmlDocGetRootElement(doc);
		xmlNode *err = NULL;
		if (is(root, "Response") || is(root, "ErrorResponse"))
			err = child(child(root, "Errors"), "Error");
		if (!err && is(root, "ErrorResponse"))
			err = child(root, "Error");
		if (err) {
			(void)text(child(err, "Code"), out->code, sizeof(out->code));
			(void)text(child(err, "Message"), out->message, sizeof(out->message));
		}
		if (text(child(root, "RequestID"), out->request_id, sizeof(out->request_id)) == -ENOENT)
			(void)text(child(root, "RequestId"), out->request_id, sizeof(out->request_id));
		xmlFreeDoc(doc);
	}
	out->cls = ec2_classify(http_status, out->code);
	if (out->cls == EC2_ERR_NONE && http_status >= 200 && http_status < 300 && out->code[0])
		out->cls = EC2_ERR_FATAL;
	return r < 0 ? -EBADMSG : 0;
}

/* ---- volumes ---- */
static int parse_attachment(const xmlNode *item, struct ec2_attachment *a)
{
	memset(a, 0, sizeof(*a));
	int r = 0;
	r |= opt_text(item, "volumeId", a->volume_id, sizeof(a->volume_id));
	r |= opt_text(item, "instanceId", a->instance_id, sizeof(a->instance_id));
	r |= opt_text(item, "device", a->device, sizeof(a->device));
	r |= req_text(item, "status", a->state, sizeof(a->state));
	r |= opt_bool(item, "deleteOnTermination", &a->delete_on_termination);
	return r ? -EBADMSG : 0;
}

static int parse_volume(const xmlNode *v, struct ec2_volume *out, bool need_state)
{
	memset(out, 0, sizeof(*out));
	int r = 0;
	r |= req_text(v, "volumeId", out->volume_id, sizeof(out->volume_id));
	if (need_state)
		r |= req_text(v, "status", out->state, sizeof(out->state));
	else
		r |= opt_text(v, "status", out->state, sizeof(out->state));
	r |= opt_u64(v, "size", &out->size_gib);
	r |= opt_text(v, "availabilityZone", out->availability_zone, sizeof(out->availability_zone));
	r |= opt_text(v, "volumeType", out->volume_type, sizeof(out->volume_type));
	r |= opt_bool(v, "encrypted", &out->encrypted);
	if (r)
		return -EBADMSG;
	for (xmlNode *it = child(v, "attachmentSet") ? child(v, "attachmentSet")->children : NULL; it; it = it->next) {
		if (!is(it, "item"))
			continue;
		if (out->n_attachments >= EC2_MAX_ATTACHMENTS)
			return -EBADMSG;
		if (parse_attachment(it, &out->attachments[out->n_attachments++]) < 0)
			return -EBADMSG;
	}
	for (xmlNode *it = child(v, "tagSet") ? child(v, "tagSet")->children : NULL; it; it = it->next) {
		char key[128];
		if (!is(it, "item") || text(child(it, "key"), key, sizeof(key)) < 0)
			continue;
		if (!strcmp(key, "dmscale:pool"))
			(void)text(child(it, "value"), out->tag_pool, sizeof(out->tag_pool));
		else if (!strcmp(key, "dmscale:instance"))
			(void)text(child(it, "value"), out->tag_instance, sizeof(out->tag_instance));
	}
	return 0;
}

/* Parse a response whose root element is root_name with fn(root, out). */
static int parse_rooted(const char *body, size_t len, const char *root_name, int (*fn)(xmlNode *root, void *out),
			void *out)
{
	xmlDoc *doc;
	xmlNode *root;
	int r = root_of(body, len, root_name, &doc, &root);
	if (r < 0)
		return r;
	r = fn(root, out);
	xmlFreeDoc(doc);
	return r;
}

static int create_volume_root(xmlNode *root, void *out)
{
	return parse_volume(root, out, true);
}

int ec2_xml_parse_create_volume(const char *body, size_t len, struct ec2_volume *out)
{
	memset(out, 0, sizeof(*out));
	return parse_rooted(body, len, "CreateVolumeResponse", create_volume_root, out);
}

int ec2_xml_parse_describe_volumes(const char *body, size_t len, struct ec2_volume *vols,
				   size_t max, size_t *n, size_t *total,
				   char *next_token, size_t next_token_len)
{
	xmlDoc *doc;
	xmlNode *root;
	*n = 0;
	if (total)
		*total = 0;
	if (next_token && next_token_len)
		next_token[0] = '\0';
	int r = root_of(body, len, "DescribeVolumesResponse", &doc, &root);
	if (r < 0)
		return r;
	xmlNode *set = child(root, "volumeSet");
	if (!set) {
		xmlFreeDoc(doc);
		return -EBADMSG;
	}
	for (xmlNode *it = set->children; it; it = it->next) {
		if (!is(it, "item"))
			continue;
		if (total)
			(*total)++;
		if (*n >= max)
			continue;
		r = parse_volume(it, &vols[*n], true);
		if (r < 0)
			break;
		(*n)++;
	}
	if (!r && next_token && next_token_len &&
	    text(child(root, "nextToken"), next_token, next_token_len) == -E2BIG)
		r = -EBADMSG;
	xmlFreeDoc(doc);
	return r;
}

static int attach_volume_root(xmlNode *root, void *out)
{
	struct ec2_attachment *a = out;
	int r = parse_attachment(root, a);
	return !r && !a->volume_id[0] ? -EBADMSG : r;
}

int ec2_xml_parse_attach_volume(const char *body, size_t len, struct ec2_attachment *out)
{
	memset(out, 0, sizeof(*out));
	return parse_rooted(body, len, "AttachVolumeResponse", attach_volume_root, out);
}

static int parse_bdm_list(const xmlNode *bdm, struct ec2_bdm *out, size_t max, size_t *n)
{
	for (xmlNode *it = bdm ? bdm->children : NULL; it; it = it->next) {
		if (!is(it, "item"))
			continue;
		if (*n >= max)
			return -ENOSPC;
		struct ec2_bdm *b = &out[*n];
		memset(b, 0, sizeof(*b));
		xmlNode *ebs = child(it, "ebs");
		int r = req_text(it, "deviceName", b->device_name, sizeof(b->device_name));
		if (ebs) {
			r |= opt_text(ebs, "volumeId", b->volume_id, sizeof(b->volume_id));
			r |= opt_text(ebs, "status", b->state, sizeof(b->state));
			r |= opt_bool(ebs, "deleteOnTermination", &b->delete_on_termination);
		}
		if (r)
			return -EBADMSG;
		(*n)++;
	}
	return 0;
}

int ec2_xml_parse_block_device_mappings(const char *body, size_t len, struct ec2_bdm *out,
					size_t max, size_t *n)
{
	xmlDoc *doc = NULL;
	*n = 0;
	int r = parse_doc(body, len, &doc);
	if (r < 0)
		return r;
	xmlNode *root = xmlDocGetRootElement(doc);
	xmlNode *bdm = NULL;
	if (is(root, "DescribeInstanceAttributeResponse")) {
		bdm = child(root, "blockDeviceMapping");
	} else if (is(root, "DescribeInstancesResponse")) {
		xmlNode *res = child(root, "reservationSet");
		xmlNode *ritem = child(res, "item");
		xmlNode *inst = child(child(ritem, "instancesSet"), "item");
		if (!inst)
			r = -ENOENT; /* instance not found */
		bdm = child(inst, "blockDeviceMapping");
	} else {
		r = -EBADMSG;
	}
	if (!r)
		r = parse_bdm_list(bdm, out, max, n);
	xmlFreeDoc(doc);
	return r;
}

int ec2_xml_parse_return(const char *body, size_t len, bool *ret)
{
	xmlDoc *doc = NULL;
	*ret = false;
	int r = parse_doc(body, len, &doc);
	if (r < 0)
		return r;
	xmlNode *root = xmlDocGetRootElement(doc);
	if (!child(root, "return"))
		r = -EBADMSG;
	else
		r = opt_bool(root, "return", ret);
	xmlFreeDoc(doc);
	return r;
}
