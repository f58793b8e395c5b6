/* EC2 Query API request bodies. See query.h. */
#include "ec2/query.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2/names.h"
#include "ec2/sigv4.h"

static void form_reserve(struct ec2_form *f, size_t extra)
{
	if (f->err)
		return;
	if (f->len + extra + 1 <= f->cap)
		return;
	size_t ncap = f->cap ? f->cap : 512;
	while (ncap < f->len + extra + 1) {
		if (ncap > ((size_t)1 << 30)) {
			f->err = -ENOMEM;
			return;
		}
		ncap *= 2;
	}
	char *nb = realloc(f->buf, ncap);
	if (!nb) {
		f->err = -ENOMEM;
		return;
	}
	f->buf = nb;
	f->cap = ncap;
}

static void form_enc(struct ec2_form *f, const char *s)
{
	size_t n = strlen(s);
	form_reserve(f, 3 * n);
	if (f->err)
		return;
	long w = sigv4_uri_encode(s, n, 0, f->buf + f->len, f->cap - f->len);
	if (w < 0) {
		f->err = -ENOMEM;
		return;
	}
	f->len += (size_t)w;
}

static void form_raw(struct ec2_form *f, const char *s)
{
	size_t n = strlen(s);
	form_reserve(f, n);
	if (f->err)
		return;
	memcpy(f->buf + f->len, s, n + 1);
	f->len += n;
}

int ec2_form_init(struct ec2_form *f, const char *action)
{
	memset(f, 0, sizeof(*f));
	if (!action || !*action)
		return f->err = -EINVAL;
	form_raw(f, "Action=");
	form_enc(f, action);
	form_raw(f, "&Version=" EC2_API_VERSION);
	return f->err;
}

void ec2_form_add(struct ec2_form *f, const char *name, const char *value)
{
	if (!name || !*name || !value) {
		if (!f->err)
			f->err = -EINVAL;
		return;
	}
	form_raw(f, "&");
	form_enc(f, name);
	form_raw(f, "=");
	form_enc(f, value);
}

void ec2_form_addf(struct ec2_form *f, const char *value, const char *name_fmt, ...)
{
	char name[256];
	va_list ap;
	va_start(ap, name_fmt);
	int n = vsnprintf(name, sizeof(name), name_fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		if (!f->err)
			f->err = -EINVAL;
		return;
	}
	ec2_form_add(f, name, value);
}

void ec2_form_add_u64(struct ec2_form *f, const char *name, uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRIu64, v);
	ec2_form_add(f, name, b);
}

void ec2_form_free(struct ec2_form *f)
{
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = 0;
}

static int form_done(struct ec2_form *f)
{
	int r = f->err;
	if (r)
		ec2_form_free(f);
	return r;
}

static bool prefixed_hex(const char *s, const char *prefix, size_t min, size_t max)
{
	if (!s)
		return false;
	size_t pl = strlen(prefix);
	if (strncmp(s, prefix, pl) != 0)
		return false;
	size_t n = 0;
	for (const char *p = s + pl; *p; p++, n++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return n >= min && n <= max;
}

bool ec2_valid_instance_id(const char *s) { return prefixed_hex(s, "i-", 8, 17); }

bool ec2_valid_device_name(const char *s)
{
	if (!s || strncmp(s, "/dev/", 5) != 0)
		return false;
	size_t n = 0;
	for (const char *p = s + 5; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return false;
	return n >= 1 && n <= 16;
}

static bool printable_ascii(const char *s, size_t max)
{
	size_t n = 0;
	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return n >= 1 && n <= max;
}

int ec2_query_create_volume(const struct ec2_create_volume_req *r, struct ec2_form *f)
{
	memset(f, 0, sizeof(*f));
	if (!r || !r->availability_zone || !printable_ascii(r->availability_zone, 64) ||
	    r->size_gib < 1 || r->size_gib > 65536 || !r->client_token ||
	    !printable_ascii(r->client_token, 64) || (r->n_tags && !r->tags) || r->n_tags > 50 ||
	    (r->kms_key_id && *r->kms_key_id && !r->encrypted))
		return -EINVAL;
	ec2_form_init(f, "CreateVolume");
	ec2_form_add(f, "AvailabilityZone", r->availability_zone);
	ec2_form_add_u64(f, "Size", r->size_gib);
	if (r->volume_type && *r->volume_type)
		ec2_form_add(f, "VolumeType", r->volume_type);
	if (r->iops)
		ec2_form_add_u64(f, "Iops", r->iops);
	if (r->throughput_mibps)
		ec2_form_add_u64(f, "Throughput", r->throughput_mibps);
	if (r->encrypted)
		ec2_form_add(f, "Encrypted", "true");
	if (r->kms_key_id && *r->kms_key_id)
		ec2_form_add(f, "KmsKeyId", r->kms_key_id);
	ec2_form_add(f, "ClientToken", r->client_token);
	if (r->n_tags) {
		ec2_form_add(f, "TagSpecification.1.ResourceType", "volume");
		for (size_t i = 0; i < r->n_tags; i++) {
			if (!r->tags[i].key || !*r->tags[i].key || strlen(r->tags[i].key) > 127 ||
			    !r->tags[i].value || strlen(r->tags[i].value) > 255 ||
			    !strncmp(r->tags[i].key, "aws:", 4)) {
				f->err = -EINVAL;
				break;
			}
			ec2_form_addf(f, r->tags[i].key, "TagSpecification.1.Tag.%zu.Key", i + 1);
			ec2_form_addf(f, r->tags[i].value, "TagSpecification.1.Tag.%zu.Value", i + 1);
		}
	}
	return form_done(f);
}

int ec2_query_describe_volumes(const char *const *volume_ids, size_t n, struct ec2_form *f)
{
	memset(f, 0, sizeof(*f));
	if ((n && !volume_ids) || n > 1000)
		return -EINVAL;
	ec2_form_init(f, "DescribeVolumes");
	for (size_t i = 0; i < n; i++) {
		if (!dms_valid_volume_id(volume_ids[i])) {
			f->err = -EINVAL;
			break;
		}
		ec2_form_addf(f, volume_ids[i], "VolumeId.%zu", i + 1);
	}
	return form_done(f);
}

int ec2_query_describe_volumes_by_tag(const char *tag_key, const char *tag_value,
				      const char *next_token, unsigned max_results, struct ec2_form *f)
{
	memset(f, 0, sizeof(*f));
	if (!tag_key || !printable_ascii(tag_key, 127) || !tag_value || strlen(tag_value) > 255 ||
	    (max_results && (max_results < 5 || max_results > 500)))
		return -EINVAL;
	ec2_form_init(f, "DescribeVolumes");
	/* The filter name embeds the tag key: "tag:<key>". */
	char fname[160];
	snprintf(fname, sizeof(fname), "tag:%s", tag_key);
	ec2_form_add(f, "Filter.1.Name", fname);
	ec2_form_add(f, "Filter.1.Value.1", tag_value);
	if (max_results)
		ec2_form_add_u64(f, "MaxResults", max_results);
	if (next_token && *next_token)
		ec2_form_add(f, "NextToken", next_token);
	return form_done(f);
}

int ec2_query_attach_volume(const char *volume_id, const char *instance_id, const char *device,
			    struct ec2_form *f)
{
	memset(f, 0, sizeof(*f));
	if (!dms_valid_volume_id(volume_id) || !ec2_valid_instance_id(instance_id) ||
	    !ec2_valid_device_name(device))
		return -EINVAL;
	ec2_form_init(f, "AttachVolume");
	ec2_form_add(f, "Device", device);
	ec2_form_add(f, "InstanceId", instance_id);
	ec2_form_add(f, "VolumeId", volume_id);
	return form_done(f);
}

int ec2_query_detach_volume(const char *volume_id, const char *instance_id, bool force,
			    struct ec2_form *f)
{
	memset(f, 0, sizeof(*f));
	if (!dms_valid_volume_id(volume_id) || (instance_id && !ec2_valid_instance_id(instance_id)))
		return -EINVAL;
	ec2_form_init(f, "DetachVolume");
	ec2_form_add(f, "VolumeId", volume_id);
	if (instance_id)
		ec2_form_add(f, "InstanceId", instance_id);
	if (force)
		ec2_form_add(f, "Force", "true");
	return form_done(f);
}

int ec2_query_delete_volume(const char *volume_id, struct ec2_form *f)
{
	memset(f, 0, sizeof(*f));
	if (!dms_valid_volume_id(volume_id))
		return -EINVAL;
	ec2_form_init(f, "DeleteVolume");
	ec2_form_add(f, "VolumeId", volume_id);
	return form_done(f);
}

int ec2_query_set_delete_on_termination(const char *instance_id, const char *device,
					struct ec2_form *f)
{
	memset(f, 0, sizeof(*f));
	if (!ec2_valid_instance_id(instance_id) || !ec2_valid_device_name(device))
		return -EINVAL;
	ec2_form_init(f, "ModifyInstanceAttribute");
	ec2_form_add(f, "InstanceId", instance_id);
	ec2_form_add(f, "BlockDeviceMapping.1.DeviceName", device);
	ec2_form_add(f, "BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true");
	return form_done(f);
}

int ec2_query_describe_instances(const char *instance_id, struct ec2_form *f)
{
	memset(f, 0, sizeof(*f));
	if (!ec2_valid_instance_id(instance_id))
		return -EINVAL;
	ec2_form_init(f, "DescribeInstances");
	ec2_form_add(f, "InstanceId.1", instance_id);
	return form_done(f);
}

int ec2_query_describe_instance_bdm(const char *instance_id, struct ec2_form *f)
{
	memset(f, 0, sizeof(*f));
	if (!ec2_valid_instance_id(instance_id))
		return -EINVAL;
	ec2_form_init(f, "DescribeInstanceAttribute");
	ec2_form_add(f, "InstanceId", instance_id);
	ec2_form_add(f, "Attribute", "blockDeviceMapping");
	return form_done(f);
}
