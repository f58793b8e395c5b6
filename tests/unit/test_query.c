/* EC2 Query API request building: exact bodies, encoding, argument checks,
 * and every emitted parameter name resolved against the EC2 API model
 * (../shared/aws/ec2-2016-11-15/service-2.json) with the EC2 protocol's
 * serialisation rules: queryName, else capitalised locationName, else the
 * member name; lists flattened as Name.N (N >= 1); value types checked. */
#include "tests/unit/unit.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ec2/names.h"
#include "ec2/query.h"

static json_t *model;

static int load_model(void **state)
{
	(void)state;
	const char *s = getenv("DMSCALE_SHARED_DIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/aws/ec2-2016-11-15/service-2.json", s && *s ? s : "../shared");
	json_error_t e;
	model = json_load_file(path, 0, &e);
	if (!model)
		fprintf(stderr, "cannot load %s: %s\n", path, e.text);
	return model ? 0 : -1;
}

static int free_model(void **state)
{
	(void)state;
	json_decref(model);
	return 0;
}

/* Resolve one dotted parameter name; returns the scalar shape type or NULL. */
static const char *resolve(const char *shape_name, char *rest)
{
	json_t *shape = json_object_get(json_object_get(model, "shapes"), shape_name);
	if (!shape)
		return NULL;
	const char *type = json_string_value(json_object_get(shape, "type"));
	if (!type)
		return NULL;
	if (!rest)
		return strcmp(type, "structure") && strcmp(type, "list") && strcmp(type, "map") ? type : NULL;
	char *dot = strchr(rest, '.');
	if (dot)
		*dot = '\0';
	char *next = dot ? dot + 1 : NULL;
	if (!strcmp(type, "list")) {
		char *end;
		long n = strtol(rest, &end, 10);
		if (*end || n < 1)
			return NULL;
		if (!next)
			return NULL; /* a list element needs its scalar or members */
		json_t *member = json_object_get(shape, "member");
		/* list of scalars: Name.N is the value itself */
		const char *mshape = json_string_value(json_object_get(member, "shape"));
		return resolve(mshape, next);
	}
	if (strcmp(type, "structure"))
		return NULL;
	const char *key;
	json_t *m;
	json_object_foreach(json_object_get(shape, "members"), key, m) {
		char ser[128];
		const char *qn = json_string_value(json_object_get(m, "queryName"));
		const char *ln = json_string_value(json_object_get(m, "locationName"));
		if (qn)
			snprintf(ser, sizeof(ser), "%s", qn);
		else if (ln) {
			snprintf(ser, sizeof(ser), "%s", ln);
			ser[0] = (char)toupper((unsigned char)ser[0]);
		} else
			snprintf(ser, sizeof(ser), "%s", key);
		if (!strcmp(ser, rest))
			return resolve(json_string_value(json_object_get(m, "shape")), next);
	}
	return NULL;
}

/* List-of-scalar handling: "VolumeId.1" → list shape, then index, then the
 * scalar with no further segment. resolve() wants a segment after the index,
 * so the caller retries with the index as the last segment. */
static const char *resolve_param(const char *action, const char *name)
{
	json_t *op = json_object_get(json_object_get(model, "operations"), action);
	if (!op)
		return NULL;
	const char *input = json_string_value(json_object_get(json_object_get(op, "input"), "shape"));
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", name);
	const char *t = resolve(input, buf);
	if (t)
		return t;
	/* trailing numeric segment: list of scalars */
	char *last = strrchr(name, '.');
	if (!last || !isdigit((unsigned char)last[1]))
		return NULL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(last - name), name);
	/* walk to the list shape, then return its member's scalar type */
	json_t *shapes = json_object_get(model, "shapes");
	const char *shape_name = input;
	char *save = NULL;
	for (char *seg = strtok_r(buf, ".", &save); seg; seg = strtok_r(NULL, ".", &save)) {
		json_t *shape = json_object_get(shapes, shape_name);
		const char *type = json_string_value(json_object_get(shape, "type"));
		if (!type)
			return NULL;
		if (!strcmp(type, "list")) {
			char *end;
			if (strtol(seg, &end, 10) < 1 || *end)
				return NULL;
			shape_name = json_string_value(json_object_get(json_object_get(shape, "member"), "shape"));
			continue;
		}
		const char *key;
		json_t *m;
		const char *found = NULL;
		json_object_foreach(json_object_get(shape, "members"), key, m) {
			char ser[128];
			const char *qn = json_string_value(json_object_get(m, "queryName"));
			const char *ln = json_string_value(json_object_get(m, "locationName"));
			snprintf(ser, sizeof(ser), "%s", qn ? qn : ln ? ln : key);
			if (!qn && ln)
				ser[0] = (char)toupper((unsigned char)ser[0]);
			if (!strcmp(ser, seg))
				found = json_string_value(json_object_get(m, "shape"));
		}
		if (!found)
			return NULL;
		shape_name = found;
	}
	json_t *list = json_object_get(shapes, shape_name);
	if (strcmp(json_string_value(json_object_get(list, "type")) ?: "", "list"))
		return NULL;
	const char *el = json_string_value(json_object_get(json_object_get(list, "member"), "shape"));
	const char *et = json_string_value(json_object_get(json_object_get(shapes, el), "type"));
	return et && strcmp(et, "structure") && strcmp(et, "list") ? et : NULL;
}

static int hexv(int c) { return isdigit(c) ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1; }

static void url_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t j = 0;
	for (size_t i = 0; i < n && j + 1 < outlen; i++) {
		if (s[i] == '%') {
			assert_true(i + 2 < n);
			int h = hexv(s[i + 1]), l = hexv(s[i + 2]);
			assert_true(h >= 0 && l >= 0); /* upper-case hex only */
			out[j++] = (char)(h * 16 + l);
			i += 2;
		} else {
			/* only unreserved characters may appear unencoded */
			assert_true(isalnum((unsigned char)s[i]) || strchr("-_.~", s[i]));
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
}

/* Check every parameter of a built body against the model; returns count. */
static int check_against_model(const char *body)
{
	char action[64] = "";
	int n = 0;
	const char *p = body;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		assert_non_null(eq);
		char name[256], value[512];
		url_decode(p, (size_t)(eq - p), name, sizeof(name));
		url_decode(eq + 1, len - (size_t)(eq - p) - 1, value, sizeof(value));
		if (!strcmp(name, "Action"))
			snprintf(action, sizeof(action), "%.63s", value);
		else if (strcmp(name, "Version")) {
			const char *type = resolve_param(action, name);
			if (!type)
				fprintf(stderr, "%s: parameter %s not in the model\n", action, name);
			assert_non_null(type);
			if (!strcmp(type, "integer") || !strcmp(type, "long")) {
				char *end;
				errno = 0;
				(void)strtoll(value, &end, 10);
				assert_true(*value && !*end && !errno);
			} else if (!strcmp(type, "boolean")) {
				assert_true(!strcmp(value, "true") || !strcmp(value, "false"));
			} else {
				assert_string_equal(type, "string");
			}
			n++;
		} else {
			assert_string_equal(value, "2016-11-15");
		}
		p = amp ? amp + 1 : p + len;
	}
	assert_non_null(json_object_get(json_object_get(model, "operations"), action));
	return n;
}

static const struct ec2_tag TAGS[] = {
	{"dmscale:pool", "docker"},
	{"dmscale:instance", "i-0123456789abcdef0"},
	{"Name", "scratch & more=stuff/ü"},
};

static void test_create_volume(void **state)
{
	(void)state;
	struct ec2_create_volume_req r = {
		.availability_zone = "us-east-1a", .size_gib = 150, .volume_type = "gp3",
		.iops = 3000, .throughput_mibps = 125, .encrypted = true,
		.kms_key_id = "arn:aws:kms:us-east-1:111122223333:key/abcd", .client_token = "dmscale-abc",
		.tags = TAGS, .n_tags = 3,
	};
	struct ec2_form f;
	assert_int_equal(ec2_query_create_volume(&r, &f), 0);
	assert_string_equal(f.buf,
		"Action=CreateVolume&Version=2016-11-15&AvailabilityZone=us-east-1a&Size=150"
		"&VolumeType=gp3&Iops=3000&Throughput=125&Encrypted=true"
		"&KmsKeyId=arn%3Aaws%3Akms%3Aus-east-1%3A111122223333%3Akey%2Fabcd&ClientToken=dmscale-abc"
		"&TagSpecification.1.ResourceType=volume"
		"&TagSpecification.1.Tag.1.Key=dmscale%3Apool&TagSpecification.1.Tag.1.Value=docker"
		"&TagSpecification.1.Tag.2.Key=dmscale%3Ainstance&TagSpecification.1.Tag.2.Value=i-0123456789abcdef0"
		"&TagSpecification.1.Tag.3.Key=Name&TagSpecification.1.Tag.3.Value=scratch%20%26%20more%3Dstuff%2F%C3%BC");
	assert_int_equal(f.len, strlen(f.buf));
	assert_int_equal(check_against_model(f.buf), 15);
	ec2_form_free(&f);

	/* minimal: optional fields absent */
	struct ec2_create_volume_req m = {.availability_zone = "eu-west-1b", .size_gib = 1, .client_token = "t"};
	assert_int_equal(ec2_query_create_volume(&m, &f), 0);
	assert_string_equal(f.buf, "Action=CreateVolume&Version=2016-11-15&AvailabilityZone=eu-west-1b&Size=1&ClientToken=t");
	ec2_form_free(&f);
}

static void test_create_volume_invalid(void **state)
{
	(void)state;
	struct ec2_form f;
	struct ec2_create_volume_req r = {.availability_zone = "us-east-1a", .size_gib = 10, .client_token = "t"};
	struct ec2_create_volume_req b = r;
	b.size_gib = 0;
	assert_int_equal(ec2_query_create_volume(&b, &f), -EINVAL);
	b.size_gib = 65537;
	assert_int_equal(ec2_query_create_volume(&b, &f), -EINVAL);
	b = r;
	b.client_token = NULL;
	assert_int_equal(ec2_query_create_volume(&b, &f), -EINVAL);
	b.client_token = "0123456789012345678901234567890123456789012345678901234567890123456789"; /* > 64 */
	assert_int_equal(ec2_query_create_volume(&b, &f), -EINVAL);
	b.client_token = "bad\ntoken";
	assert_int_equal(ec2_query_create_volume(&b, &f), -EINVAL);
	b = r;
	b.kms_key_id = "key"; /* KMS key without encryption */
	assert_int_equal(ec2_query_create_volume(&b, &f), -EINVAL);
	b = r;
	struct ec2_tag aws[] = {{"aws:reserved", "x"}};
	b.tags = aws;
	b.n_tags = 1;
	assert_int_equal(ec2_query_create_volume(&b, &f), -EINVAL);
	assert_null(f.buf);
	struct ec2_tag empty[] = {{"", "x"}};
	b.tags = empty;
	assert_int_equal(ec2_query_create_volume(&b, &f), -EINVAL);
	assert_int_equal(ec2_query_create_volume(NULL, &f), -EINVAL);
	b = r;
	b.availability_zone = "";
	assert_int_equal(ec2_query_create_volume(&b, &f), -EINVAL);
}

static void test_other_actions(void **state)
{
	(void)state;
	struct ec2_form f;
	const char *ids[] = {"vol-0123456789abcdef0", "vol-11111111"};
	assert_int_equal(ec2_query_describe_volumes(ids, 2, &f), 0);
	assert_string_equal(f.buf, "Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-0123456789abcdef0&VolumeId.2=vol-11111111");
	assert_int_equal(check_against_model(f.buf), 2);
	ec2_form_free(&f);

	assert_int_equal(ec2_query_describe_volumes_by_tag("dmscale:pool", "docker", "tok/+=", 100, &f), 0);
	assert_string_equal(f.buf, "Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3Admscale%3Apool"
				   "&Filter.1.Value.1=docker&MaxResults=100&NextToken=tok%2F%2B%3D");
	assert_int_equal(check_against_model(f.buf), 4);
	ec2_form_free(&f);

	assert_int_equal(ec2_query_attach_volume("vol-0123456789abcdef0", "i-0123456789abcdef0", "/dev/xvdba", &f), 0);
	assert_string_equal(f.buf, "Action=AttachVolume&Version=2016-11-15&Device=%2Fdev%2Fxvdba"
				   "&InstanceId=i-0123456789abcdef0&VolumeId=vol-0123456789abcdef0");
	assert_int_equal(check_against_model(f.buf), 3);
	ec2_form_free(&f);

	assert_int_equal(ec2_query_set_delete_on_termination("i-0123456789abcdef0", "/dev/xvdbz", &f), 0);
	assert_string_equal(f.buf, "Action=ModifyInstanceAttribute&Version=2016-11-15&InstanceId=i-0123456789abcdef0"
				   "&BlockDeviceMapping.1.DeviceName=%2Fdev%2Fxvdbz"
				   "&BlockDeviceMapping.1.Ebs.DeleteOnTermination=true");
	assert_int_equal(check_against_model(f.buf), 3);
	ec2_form_free(&f);

	assert_int_equal(ec2_query_describe_instances("i-0123456789abcdef0", &f), 0);
	assert_int_equal(check_against_model(f.buf), 1);
	ec2_form_free(&f);
	assert_int_equal(ec2_query_describe_instance_bdm("i-0123456789abcdef0", &f), 0);
	assert_int_equal(check_against_model(f.buf), 2);
	ec2_form_free(&f);
	assert_int_equal(ec2_query_detach_volume("vol-0123456789abcdef0", "i-0123456789abcdef0", true, &f), 0);
	assert_string_equal(f.buf, "Action=DetachVolume&Version=2016-11-15&VolumeId=vol-0123456789abcdef0"
				   "&InstanceId=i-0123456789abcdef0&Force=true");
	assert_int_equal(check_against_model(f.buf), 3);
	ec2_form_free(&f);
	assert_int_equal(ec2_query_delete_volume("vol-0123456789abcdef0", &f), 0);
	assert_int_equal(check_against_model(f.buf), 1);
	ec2_form_free(&f);
}

/* The model checker itself must reject wrong names (so the test can fail). */
static void test_model_checker_rejects(void **state)
{
	(void)state;
	assert_null(resolve_param("CreateVolume", "TagSpecifications.1.ResourceType"));
	assert_null(resolve_param("CreateVolume", "TagSpecification.0.ResourceType"));
	assert_null(resolve_param("CreateVolume", "TagSpecification.1.Tags.1.Key"));
	assert_null(resolve_param("CreateVolume", "VolumeId"));
	assert_null(resolve_param("AttachVolume", "Size"));
	assert_null(resolve_param("NoSuchAction", "Size"));
	assert_null(resolve_param("ModifyInstanceAttribute", "BlockDeviceMappings.1.DeviceName"));
	assert_string_equal(resolve_param("CreateVolume", "Encrypted"), "boolean");
	assert_string_equal(resolve_param("CreateVolume", "Size"), "integer");
	assert_string_equal(resolve_param("DescribeVolumes", "VolumeId.3"), "string");
}

static void test_bad_ids(void **state)
{
	(void)state;
	struct ec2_form f;
	assert_int_equal(ec2_query_attach_volume("vol-XYZ", "i-0123456789abcdef0", "/dev/xvdba", &f), -EINVAL);
	assert_int_equal(ec2_query_attach_volume("vol-0123456789abcdef0", "i-01", "/dev/xvdba", &f), -EINVAL);
	assert_int_equal(ec2_query_attach_volume("vol-0123456789abcdef0", "i-0123456789abcdef0", "/dev/../sda", &f), -EINVAL);
	assert_int_equal(ec2_query_attach_volume("vol-0123456789abcdef0", "i-0123456789abcdef0", "xvdba", &f), -EINVAL);
	assert_int_equal(ec2_query_delete_volume("vol-0123456789abcdef0&Action=TerminateInstances", &f), -EINVAL);
	assert_int_equal(ec2_query_delete_volume(NULL, &f), -EINVAL);
	const char *ids[] = {"vol-01234567", "nope"};
	assert_int_equal(ec2_query_describe_volumes(ids, 2, &f), -EINVAL);
	assert_null(f.buf);
	assert_int_equal(ec2_query_describe_volumes_by_tag("k", "v", NULL, 3, &f), -EINVAL);
	assert_int_equal(ec2_query_set_delete_on_termination("i-0123456789abcdef0", "/dev/", &f), -EINVAL);
	assert_false(dms_valid_volume_id("vol-0123456789abcdef01")); /* 18 hex */
	assert_true(dms_valid_volume_id("vol-0123456789abcdef0"));
	assert_false(ec2_valid_instance_id("i-0123456789ABCDEF0"));
	assert_true(ec2_valid_device_name("/dev/xvdba"));
	assert_false(ec2_valid_device_name("/dev/xvdba0123456789012"));
}

static void test_form_errors(void **state)
{
	(void)state;
	struct ec2_form f;
	assert_int_equal(ec2_form_init(&f, ""), -EINVAL);
	ec2_form_free(&f);
	assert_int_equal(ec2_form_init(&f, "X"), 0);
	ec2_form_add(&f, "", "v");
	assert_int_equal(f.err, -EINVAL);
	ec2_form_free(&f);
	assert_int_equal(ec2_form_init(&f, "X"), 0);
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ec2_form_addf(&f, "v", "%s", longname);
	assert_int_equal(f.err, -EINVAL);
	ec2_form_free(&f);
	/* large values encode fully */
	assert_int_equal(ec2_form_init(&f, "X"), 0);
	char *big = malloc(100001);
	memset(big, ' ', 100000);
	big[100000] = '\0';
	ec2_form_add(&f, "K", big);
	assert_int_equal(f.err, 0);
	assert_int_equal(f.len, strlen("Action=X&Version=2016-11-15&K=") + 300000);
	free(big);
	ec2_form_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_volume),
		cmocka_unit_test(test_create_volume_invalid),
		cmocka_unit_test(test_other_actions),
		cmocka_unit_test(test_model_checker_rejects),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_form_errors),
	};
	return cmocka_run_group_tests(tests, load_model, free_model);
}
