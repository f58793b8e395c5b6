/* EC2 Query API request bodies (application/x-www-form-urlencoded), API
 * version 2016-11-15. Pure: no I/O. Names follow the EC2 protocol rules of the
 * API model (queryName, else capitalised locationName, else member name; lists
 * flattened as Name.N, 1-based). Values are RFC 3986 encoded. */
#ifndef DMSCALE_EC2_QUERY_H
#define DMSCALE_EC2_QUERY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EC2_API_VERSION "2016-11-15"

struct ec2_form {
	char *buf;  /* "Action=...&Version=2016-11-15&..." (malloc'd) */
	size_t len, cap;
	int err;    /* first error (-ENOMEM/-EINVAL), sticky */
};

int ec2_form_init(struct ec2_form *f, const char *action);
void ec2_form_add(struct ec2_form *f, const char *name, const char *value);
void ec2_form_addf(struct ec2_form *f, const char *value, const char *name_fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ec2_form_add_u64(struct ec2_form *f, const char *name, uint64_t v);
void ec2_form_free(struct ec2_form *f);

struct ec2_tag {
	const char *key;
	const char *value;
};

struct ec2_create_volume_req {
	const char *availability_zone; /* required */
	uint64_t size_gib;             /* required, 1..65536 */
	const char *volume_type;       /* NULL => EC2 default */
	uint32_t iops;                 /* 0 => not sent */
	uint32_t throughput_mibps;     /* 0 => not sent (gp3 only) */
	bool encrypted;
	const char *kms_key_id;        /* NULL/"" => not sent; requires encrypted */
	const char *client_token;      /* required: idempotency, <= 64 ASCII */
	const struct ec2_tag *tags;    /* TagSpecification.1 (ResourceType=volume) */
	size_t n_tags;
};

/* All builders: 0 or -EINVAL (bad argument) / -ENOMEM; on error f is freed. */
int ec2_query_create_volume(const struct ec2_create_volume_req *r, struct ec2_form *f);
int ec2_query_describe_volumes(const char *const *volume_ids, size_t n, struct ec2_form *f);
/* DescribeVolumes Filter.1 tag:<key>=<value>, paginated (next_token NULL/"" for the first page). */
int ec2_query_describe_volumes_by_tag(const char *tag_key, const char *tag_value,
				      const char *next_token, unsigned max_results, struct ec2_form *f);
int ec2_query_attach_volume(const char *volume_id, const char *instance_id, const char *device,
			    struct ec2_form *f);
int ec2_query_detach_volume(const char *volume_id, const char *instance_id, bool force,
			    struct ec2_form *f);
int ec2_query_delete_volume(const char *volume_id, struct ec2_form *f);
/* ModifyInstanceAttribute BlockDeviceMapping.1.{DeviceName,Ebs.DeleteOnTermination=true} */
int ec2_query_set_delete_on_termination(const char *instance_id, const char *device,
					struct ec2_form *f);
int ec2_query_describe_instances(const char *instance_id, struct ec2_form *f);
/* DescribeInstanceAttribute Attribute=blockDeviceMapping */
int ec2_query_describe_instance_bdm(const char *instance_id, struct ec2_form *f);

/* Validators for identifiers that end up in requests and logs (volume ids:
 * dms_valid_volume_id, ec2/names.h). */
bool ec2_valid_instance_id(const char *s); /* i-[0-9a-f]{8,17} */
bool ec2_valid_device_name(const char *s); /* /dev/[a-z0-9]{1,16} */

#endif
