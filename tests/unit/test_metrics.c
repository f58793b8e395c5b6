/* Prometheus exposition (dmscale/metrics.c): exact text for a linear pool,
 * thin pool fields, the daemon's view, hostile names and ids, and a checker
 * of the text format 0.0.4 (HELP and TYPE before the samples of each family,
 * `name{labels} value` lines, escapes, no duplicate series) run on every
 * output. The atomic textfile writer against a temporary directory.
 *
 * `test_metrics --dump CASE` prints the exposition of a case (linear, thin,
 * daemon, hostile) for tests/unit_py/test_prometheus_format.py. */
#include "tests/unit/unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmscale/metrics.h"
#include "dmscale/status.h"
#include "dmscale/units.h"

/* ---- a checker of the text format ------------------------------------------------ */

#define MAX_SERIES 512
#define MAX_FAMILIES 128

struct checked {
	size_t samples, families;
	char pool[256];                  /* the decoded pool label of every sample */
};

static bool name_ok(const char *s, size_t n)
{
	if (!n || !(s[0] == '_' || s[0] == ':' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(s[i] == '_' || s[i] == ':' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static bool value_ok(const char *s)
{
	if (!strcmp(s, "NaN") || !strcmp(s, "+Inf") || !strcmp(s, "-Inf"))
		return true;
	char *end;
	errno = 0;
	(void)strtod(s, &end);
	return *s && *end == '\0' && errno == 0 && !strchr(s, ' ') && strncasecmp(s, "inf", 3) &&
	       strncasecmp(s, "nan", 3);
}

/* Valid UTF-8 of length n (no NUL). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (!k || i + k > n || (k == 2 && c < 0xc2))
			return false;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		i += k;
	}
	return true;
}

static char why_buf[512];

static const char *whyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *whyf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	return why_buf;
}

static void scopy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Returns NULL if `text` is a valid exposition as this project writes it,
 * else what is wrong (static buffer). */
static const char *check_text(const char *text, struct checked *c)
{
	static char series[MAX_SERIES][768];
	static char fams[MAX_FAMILIES][128];
	size_t nseries = 0, nfams = 0;
	char fam[128] = "", help_of[128] = "", type[16] = "";
	size_t fam_samples = 0;
	memset(c, 0, sizeof(*c));
	if (!*text)
		return "empty";
	if (text[strlen(text) - 1] != '\n')
		return "no final newline";
	if (!utf8_ok((const unsigned char *)text, strlen(text)))
		return "not UTF-8";
	for (const char *line = text; *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = (size_t)(eol - line);
		char l[1024];
		if (len >= sizeof(l))
			return "line too long";
		memcpy(l, line, len);
		l[len] = '\0';
		line = eol + 1;
		if (!strncmp(l, "# HELP ", 7)) {
			char *sp = strchr(l + 7, ' ');
			if (!sp || !name_ok(l + 7, (size_t)(sp - l - 7)))
				return whyf("bad HELP: %s", l);
			for (char *p = sp + 1; *p; p++)
				if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
					return whyf("bad escape in HELP: %s", l);
				else if (*p == '\\')
					p++;
			if (fam[0] && !fam_samples)
				return whyf("family %s without samples", fam);
			*sp = '\0';
			for (size_t i = 0; i < nfams; i++)
				if (!strcmp(fams[i], l + 7))
					return whyf("family %s twice", l + 7);
			if (nfams == MAX_FAMILIES)
				return "too many families";
			scopy(fams[nfams++], sizeof(fams[0]), l + 7);
			scopy(help_of, sizeof(help_of), l + 7);
			fam[0] = '\0';
			fam_samples = 0;
			continue;
		}
		if (!strncmp(l, "# TYPE ", 7)) {
			char n[128], t[32], extra[8];
			if (sscanf(l + 7, "%127s %31s %7s", n, t, extra) != 2)
				return whyf("bad TYPE: %s", l);
			if (strcmp(n, help_of) || fam[0])
				return whyf("TYPE %s not right after its HELP", n);
			if (strcmp(t, "gauge") && strcmp(t, "counter"))
				return whyf("unexpected type %s", t);
			if (!strcmp(t, "counter") != (strlen(n) > 6 && !strcmp(n + strlen(n) - 6, "_total")))
				return whyf("%s: counters and only counters end in _total", n);
			scopy(fam, sizeof(fam), n);
			scopy(type, sizeof(type), t);
			continue;
		}
		if (l[0] == '#' || !l[0])
			return whyf("unexpected line: %s", l);
		/* a sample: name{labels} value */
		char *brace = strchr(l, '{');
		if (!brace)
			return whyf("sample without labels: %s", l);
		if (!fam[0] || (size_t)(brace - l) != strlen(fam) || strncmp(l, fam, strlen(fam)))
			return whyf("sample outside its family (%s): %s", fam, l);
		if (strncmp(l, "dmscale_", 8))
			return whyf("not a dmscale_ metric: %s", l);
		char key[768], names[16][64];
		size_t nnames = 0, klen = 0;
		klen += (size_t)snprintf(key, sizeof(key), "%.*s|", (int)(brace - l), l);
		const char *p = brace + 1;
		while (*p != '}') {
			const char *eq = strchr(p, '=');
			if (!eq || eq[1] != '"' || !name_ok(p, (size_t)(eq - p)) || nnames == 16 || eq - p >= 64)
				return whyf("bad label in: %s", l);
			snprintf(names[nnames], sizeof(names[0]), "%.*s", (int)(eq - p), p);
			for (size_t i = 0; i < nnames; i++)
				if (!strcmp(names[i], names[nnames]))
					return whyf("label %s twice: %s", names[i], l);
			char val[256];
			size_t vn = 0;
			for (p = eq + 2; *p != '"'; p++) {
				if (!*p)
					return whyf("unterminated label value: %s", l);
				char ch = *p;
				if (ch == '\\') {
					p++;
					ch = *p == 'n' ? '\n' : *p == '\\' ? '\\' : *p == '"' ? '"' : 0;
					if (!ch)
						return whyf("bad escape: %s", l);
				}
				if (vn + 1 < sizeof(val))
					val[vn++] = ch;
			}
			val[vn] = '\0';
			p++;
			if (nnames == 0) {
				if (strcmp(names[0], "pool"))
					return whyf("first label is not pool: %s", l);
				if (c->samples && strcmp(c->pool, val))
					return whyf("pool label changed: %s", l);
				scopy(c->pool, sizeof(c->pool), val);
			}
			klen += (size_t)snprintf(key + klen, klen < sizeof(key) ? sizeof(key) - klen : 0, "%s=%s|",
						 names[nnames], val);
			nnames++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return whyf("expected , or }: %s", l);
		}
		if (!nnames)
			return whyf("no pool label: %s", l);
		if (p[1] != ' ' || !value_ok(p + 2))
			return whyf("bad value (or a timestamp): %s", l);
		if (!strcmp(type, "counter") && p[2] == '-')
			return whyf("negative counter: %s", l);
		if (klen >= sizeof(key))
			return "series key too long";
		for (size_t i = 0; i < nseries; i++)
			if (!strcmp(series[i], key))
				return whyf("duplicate series: %s", l);
		if (nseries == MAX_SERIES)
			return "too many series";
		scopy(series[nseries++], sizeof(series[0]), key);
		fam_samples++;
		c->samples++;
	}
	if (fam[0] && !fam_samples)
		return whyf("family %s without samples", fam);
	if (help_of[0] && !fam[0])
		return "HELP without TYPE at the end";
	c->families = nfams;
	return NULL;
}

/* ---- fixtures -------------------------------------------------------------------- */

static struct dms_status *new_linear(void)
{
	struct dms_status *st = calloc(1, sizeof(*st));
	assert_non_null(st);
	snprintf(st->name, sizeof(st->name), "scratch");
	snprintf(st->target, sizeof(st->target), "linear");
	snprintf(st->dm_device, sizeof(st->dm_device), "/dev/mapper/dmscale-scratch");
	snprintf(st->uuid, sizeof(st->uuid), "0b7c6d8e-1f2a-4b3c-9d4e-5f6a7b8c9d0e");
	st->generation = 2;
	snprintf(st->state, sizeof(st->state), "active");
	snprintf(st->mountpoint, sizeof(st->mountpoint), "/var/lib/docker");
	st->size_bytes = 268434407424ULL;
	snprintf(st->fs_type, sizeof(st->fs_type), "ext4");
	st->fs_mounted = true;
	st->fs_size_bytes = 264239435776ULL;
	st->fs_used_bytes = 13207024435ULL;
	st->fs_free_bytes = 251032411341ULL;
	st->member_count = 2;
	const char *dev[] = { "/dev/nvme1n1", "/dev/nvme2n1" };
	const char *vol[] = { "vol-0a1b2c3d4e5f60718", "vol-0f9e8d7c6b5a40312" };
	const bytes_t size[] = { 100 * GIB, 150 * GIB };
	for (uint32_t i = 0; i < 2; i++) {
		struct dms_status_member *m = &st->members[i];
		m->index = i;
		snprintf(m->device, sizeof(m->device), "%s", dev[i]);
		snprintf(m->volume_id, sizeof(m->volume_id), "%s", vol[i]);
		m->size_bytes = size[i];
		m->data_offset_bytes = MIB;
		m->data_bytes = size[i] - MIB;
		m->have_layout = true;
	}
	st->pending.count = 1;
	snprintf(st->pending.ids[0], sizeof(st->pending.ids[0]), "vol-0123456789abcdef0");
	st->privileged = true;
	return st;
}

static struct dms_status *new_thin(void)
{
	struct dms_status *st = new_linear();
	snprintf(st->target, sizeof(st->target), "thin");
	st->pending.count = 0;
	struct dms_status_thin *t = &st->pool;
	t->known = true;
	t->virtual_bytes = 16 * TIB;
	t->data_used_bytes = 12 * GIB;
	t->data_total_bytes = 250 * GIB - 64 * MIB;
	t->metadata_used_bytes = 3 * MIB;
	t->metadata_total_bytes = 64 * MIB;
	t->low_water_mark_bytes = 25 * GIB;
	snprintf(t->mode, sizeof(t->mode), "out_of_data_space");
	t->needs_check = true;
	return st;
}

/* What write_state in ec2/daemon.c writes, as `dmscale status` reads it
 * (pid dropped, running added). */
static const char daemon_json[] =
	"{\"pool\":\"scratch\",\"mountpoint\":\"/var/lib/docker\",\"pool_ready\":true,\"ec2_ready\":true,"
	"\"size_bytes\":264239435776,\"free_bytes\":251032411341,\"threshold_bytes\":26423943577,"
	"\"fill_rate_bps\":104857600,\"time_to_full_s\":-1,\"attach_latency_s\":41.25,"
	"\"last_attach_s\":38.50,\"last_create_to_attached_s\":12.75,\"needed\":false,\"reason\":\"no-need\","
	"\"in_flight\":1,\"provisioned\":3,\"failed\":1,\"api_calls\":42,\"retries\":5,\"throttled\":2,"
	"\"last_result\":\"vol-0f9e8d7c6b5a40312 appended in 38.5 s\",\"last_error\":\"RequestLimitExceeded\","
	"\"running\":true}";

static struct dms_status *new_with_daemon(bool running)
{
	struct dms_status *st = new_linear();
	st->daemon = json_loads(daemon_json, 0, NULL);
	assert_non_null(st->daemon);
	st->daemon_running = running;
	return st;
}

static struct dms_status *new_hostile(void)
{
	struct dms_status *st = new_linear();
	snprintf(st->name, sizeof(st->name), "a\"b\\c\nd");
	snprintf(st->mountpoint, sizeof(st->mountpoint), "/mnt/x\"}\n# TYPE evil gauge\nevil{a=\"1\"} 1");
	snprintf(st->members[0].volume_id, sizeof(st->members[0].volume_id), "vol-\"\\\n\xff\xc3\xa9");
	snprintf(st->members[0].device, sizeof(st->members[0].device), "/dev/x,y=\"z\"}");
	snprintf(st->members[1].volume_id, sizeof(st->members[1].volume_id), "\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80");
	st->members[1].device[0] = '\0';          /* missing member */
	st->members[1].have_layout = false;
	snprintf(st->state, sizeof(st->state), "weird\"state");
	st->pending.count = 3;
	snprintf(st->pending.ids[1], sizeof(st->pending.ids[1]), "%s", st->pending.ids[0]);   /* duplicate */
	snprintf(st->pending.ids[2], sizeof(st->pending.ids[2]), "vol-\\n");
	st->daemon = json_loads("{\"provisioned\":\"3\",\"failed\":-1,\"api_calls\":1e300,\"retries\":null,"
				"\"fill_rate_bps\":1.5e-3,\"reason\":\"x\\\"y\\\\z\\nw\",\"last_error\":\"A\\\"B\","
				"\"last_attach_s\":0,\"needed\":true,\"pool_ready\":\"yes\"}", 0, NULL);
	assert_non_null(st->daemon);
	st->daemon_running = true;
	return st;
}

static void free_status(struct dms_status *st)
{
	dms_status_release(st);
	free(st);
}

static char *render(const struct dms_status *st)
{
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(dms_metrics_format(st, &text, &len), 0);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/* Render and check the format; returns the text (free it). */
static char *render_checked(const struct dms_status *st, struct checked *c)
{
	char *text = render(st);
	const char *why = check_text(text, c);
	if (why)
		fprintf(stderr, "exposition rejected: %s\n--- text ---\n%s", why, text);
	assert_null(why);
	return text;
}

static void assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fprintf(stderr, "missing line: %s\n--- text ---\n%s", line, text);
	fail();
}

static void assert_no(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fprintf(stderr, "unexpected: %s\n--- text ---\n%s", needle, text);
	assert_null(strstr(text, needle));
}

/* ---- tests ------------------------------------------------------------------------ */

static const char linear_expected[] =
	"# HELP dmscale_pool_info Pool identity: device-mapper target (linear or thin), filesystem type, pool "
	"uuid, device and mount point; always 1.\n"
	"# TYPE dmscale_pool_info gauge\n"
	"dmscale_pool_info{pool=\"scratch\",target=\"linear\",fs_type=\"ext4\","
	"uuid=\"0b7c6d8e-1f2a-4b3c-9d4e-5f6a7b8c9d0e\",dm_device=\"/dev/mapper/dmscale-scratch\","
	"mountpoint=\"/var/lib/docker\"} 1\n"
	"# HELP dmscale_pool_state Pool state: 1 for the current one, 0 for the others.\n"
	"# TYPE dmscale_pool_state gauge\n"
	"dmscale_pool_state{pool=\"scratch\",state=\"active\"} 1\n"
	"dmscale_pool_state{pool=\"scratch\",state=\"growing\"} 0\n"
	"dmscale_pool_state{pool=\"scratch\",state=\"inactive\"} 0\n"
	"dmscale_pool_state{pool=\"scratch\",state=\"degraded\"} 0\n"
	"# HELP dmscale_pool_generation Generation of the pool's labels, incremented by every append (reading "
	"it needs root).\n"
	"# TYPE dmscale_pool_generation gauge\n"
	"dmscale_pool_generation{pool=\"scratch\"} 2\n"
	"# HELP dmscale_pool_size_bytes Size of the pool's device-mapper device (0 when not active).\n"
	"# TYPE dmscale_pool_size_bytes gauge\n"
	"dmscale_pool_size_bytes{pool=\"scratch\"} 268434407424\n"
	"# HELP dmscale_pool_members Member volumes of the pool (from the labels as root, else from sysfs).\n"
	"# TYPE dmscale_pool_members gauge\n"
	"dmscale_pool_members{pool=\"scratch\"} 2\n"
	"# HELP dmscale_pool_pending_volumes Volumes created for the pool by the daemon and not appended yet.\n"
	"# TYPE dmscale_pool_pending_volumes gauge\n"
	"dmscale_pool_pending_volumes{pool=\"scratch\"} 1\n"
	"# HELP dmscale_pool_pending_volume_info A volume created for the pool by the daemon and not appended "
	"yet; always 1.\n"
	"# TYPE dmscale_pool_pending_volume_info gauge\n"
	"dmscale_pool_pending_volume_info{pool=\"scratch\",volume_id=\"vol-0123456789abcdef0\"} 1\n"
	"# HELP dmscale_filesystem_mounted 1 if the pool's filesystem is mounted, else 0.\n"
	"# TYPE dmscale_filesystem_mounted gauge\n"
	"dmscale_filesystem_mounted{pool=\"scratch\"} 1\n"
	"# HELP dmscale_filesystem_size_bytes Size of the pool's filesystem (statvfs f_blocks * f_frsize).\n"
	"# TYPE dmscale_filesystem_size_bytes gauge\n"
	"dmscale_filesystem_size_bytes{pool=\"scratch\"} 264239435776\n"
	"# HELP dmscale_filesystem_used_bytes Used bytes of the pool's filesystem ((f_blocks - f_bfree) * "
	"f_frsize).\n"
	"# TYPE dmscale_filesystem_used_bytes gauge\n"
	"dmscale_filesystem_used_bytes{pool=\"scratch\"} 13207024435\n"
	"# HELP dmscale_filesystem_free_bytes Free bytes of the pool's filesystem available to unprivileged "
	"users (f_bavail * f_frsize); what the daemon compares with its threshold.\n"
	"# TYPE dmscale_filesystem_free_bytes gauge\n"
	"dmscale_filesystem_free_bytes{pool=\"scratch\"} 251032411341\n"
	"# HELP dmscale_member_present 1 if the member's device was found, 0 if it is missing.\n"
	"# TYPE dmscale_member_present gauge\n"
	"dmscale_member_present{pool=\"scratch\",member=\"0\",volume_id=\"vol-0a1b2c3d4e5f60718\","
	"device=\"/dev/nvme1n1\"} 1\n"
	"dmscale_member_present{pool=\"scratch\",member=\"1\",volume_id=\"vol-0f9e8d7c6b5a40312\","
	"device=\"/dev/nvme2n1\"} 1\n"
	"# HELP dmscale_member_size_bytes Size of the member's block device.\n"
	"# TYPE dmscale_member_size_bytes gauge\n"
	"dmscale_member_size_bytes{pool=\"scratch\",member=\"0\",volume_id=\"vol-0a1b2c3d4e5f60718\","
	"device=\"/dev/nvme1n1\"} 107374182400\n"
	"dmscale_member_size_bytes{pool=\"scratch\",member=\"1\",volume_id=\"vol-0f9e8d7c6b5a40312\","
	"device=\"/dev/nvme2n1\"} 161061273600\n"
	"# HELP dmscale_member_data_bytes Bytes of the member mapped into the pool (from its label; needs "
	"root).\n"
	"# TYPE dmscale_member_data_bytes gauge\n"
	"dmscale_member_data_bytes{pool=\"scratch\",member=\"0\",volume_id=\"vol-0a1b2c3d4e5f60718\","
	"device=\"/dev/nvme1n1\"} 107373133824\n"
	"dmscale_member_data_bytes{pool=\"scratch\",member=\"1\",volume_id=\"vol-0f9e8d7c6b5a40312\","
	"device=\"/dev/nvme2n1\"} 161060225024\n"
	"# HELP dmscale_daemon_up 1 if the provisioning daemon of the pool is running, else 0 (the daemon_* "
	"metrics below are its last state).\n"
	"# TYPE dmscale_daemon_up gauge\n"
	"dmscale_daemon_up{pool=\"scratch\"} 0\n";

static void test_linear_exact(void **state)
{
	(void)state;
	struct dms_status *st = new_linear();
	struct checked c;
	char *text = render_checked(st, &c);
	if (strcmp(text, linear_expected))
		fprintf(stderr, "--- got ---\n%s", text);
	assert_string_equal(text, linear_expected);
	assert_int_equal(c.families, 15);
	assert_int_equal(c.samples, 21);
	assert_string_equal(c.pool, "scratch");
	/* the same through a FILE * */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(dms_status_print_prometheus(st, f), 0);
	fclose(f);
	assert_string_equal(buf, linear_expected);
	free(buf);
	free(text);
	free_status(st);
}

static void test_inactive_unprivileged(void **state)
{
	(void)state;
	struct dms_status *st = new_linear();
	snprintf(st->state, sizeof(st->state), "inactive");
	st->generation = 0;
	st->fs_mounted = false;
	st->size_bytes = 0;
	st->pending.count = 0;
	st->members[0].have_layout = st->members[1].have_layout = false;
	struct checked c;
	char *text = render_checked(st, &c);
	assert_line(text, "dmscale_pool_state{pool=\"scratch\",state=\"inactive\"} 1");
	assert_line(text, "dmscale_pool_state{pool=\"scratch\",state=\"active\"} 0");
	assert_line(text, "dmscale_filesystem_mounted{pool=\"scratch\"} 0");
	assert_line(text, "dmscale_pool_pending_volumes{pool=\"scratch\"} 0");
	assert_no(text, "dmscale_pool_generation");
	assert_no(text, "dmscale_filesystem_size_bytes");
	assert_no(text, "dmscale_filesystem_free_bytes");
	assert_no(text, "dmscale_member_data_bytes");
	assert_no(text, "dmscale_pool_pending_volume_info");
	assert_no(text, "dmscale_thin_");
	assert_line(text, "dmscale_daemon_up{pool=\"scratch\"} 0");
	free(text);

	/* no members at all: the member families are left out */
	st->member_count = 0;
	text = render_checked(st, &c);
	assert_no(text, "dmscale_member_");
	assert_line(text, "dmscale_pool_members{pool=\"scratch\"} 0");
	free(text);
	free_status(st);
}

static void test_thin(void **state)
{
	(void)state;
	struct dms_status *st = new_thin();
	struct checked c;
	char *text = render_checked(st, &c);
	assert_line(text, "dmscale_pool_info{pool=\"scratch\",target=\"thin\",fs_type=\"ext4\","
			  "uuid=\"0b7c6d8e-1f2a-4b3c-9d4e-5f6a7b8c9d0e\",dm_device=\"/dev/mapper/dmscale-scratch\","
			  "mountpoint=\"/var/lib/docker\"} 1");
	const char *expected =
		"# HELP dmscale_thin_pool_virtual_bytes Size of the thin volume (the filesystem's device).\n"
		"# TYPE dmscale_thin_pool_virtual_bytes gauge\n"
		"dmscale_thin_pool_virtual_bytes{pool=\"scratch\"} 17592186044416\n"
		"# HELP dmscale_thin_pool_data_used_bytes Data space of the thin pool in use.\n"
		"# TYPE dmscale_thin_pool_data_used_bytes gauge\n"
		"dmscale_thin_pool_data_used_bytes{pool=\"scratch\"} 12884901888\n"
		"# HELP dmscale_thin_pool_data_size_bytes Data space of the thin pool.\n"
		"# TYPE dmscale_thin_pool_data_size_bytes gauge\n"
		"dmscale_thin_pool_data_size_bytes{pool=\"scratch\"} 268368347136\n"
		"# HELP dmscale_thin_pool_metadata_used_bytes Metadata space of the thin pool in use.\n"
		"# TYPE dmscale_thin_pool_metadata_used_bytes gauge\n"
		"dmscale_thin_pool_metadata_used_bytes{pool=\"scratch\"} 3145728\n"
		"# HELP dmscale_thin_pool_metadata_size_bytes Metadata space of the thin pool.\n"
		"# TYPE dmscale_thin_pool_metadata_size_bytes gauge\n"
		"dmscale_thin_pool_metadata_size_bytes{pool=\"scratch\"} 67108864\n"
		"# HELP dmscale_thin_pool_low_water_mark_bytes Free data space below which the kernel raises a dm "
		"event.\n"
		"# TYPE dmscale_thin_pool_low_water_mark_bytes gauge\n"
		"dmscale_thin_pool_low_water_mark_bytes{pool=\"scratch\"} 26843545600\n"
		"# HELP dmscale_thin_pool_mode Thin pool mode: 1 for the current one, 0 for the others.\n"
		"# TYPE dmscale_thin_pool_mode gauge\n"
		"dmscale_thin_pool_mode{pool=\"scratch\",mode=\"rw\"} 0\n"
		"dmscale_thin_pool_mode{pool=\"scratch\",mode=\"ro\"} 0\n"
		"dmscale_thin_pool_mode{pool=\"scratch\",mode=\"out_of_data_space\"} 1\n"
		"dmscale_thin_pool_mode{pool=\"scratch\",mode=\"fail\"} 0\n"
		"# HELP dmscale_thin_pool_needs_check 1 if the thin pool metadata needs a check (thin_check).\n"
		"# TYPE dmscale_thin_pool_needs_check gauge\n"
		"dmscale_thin_pool_needs_check{pool=\"scratch\"} 1\n"
		"# HELP dmscale_daemon_up";
	if (!strstr(text, expected))
		fprintf(stderr, "--- got ---\n%s", text);
	assert_non_null(strstr(text, expected));
	assert_int_equal(c.families, 22);
	free(text);

	/* thin target whose pool status is not known (not active): no thin families */
	st->pool.known = false;
	text = render_checked(st, &c);
	assert_no(text, "dmscale_thin_");
	assert_line(text, "dmscale_pool_info{pool=\"scratch\",target=\"thin\",fs_type=\"ext4\","
			  "uuid=\"0b7c6d8e-1f2a-4b3c-9d4e-5f6a7b8c9d0e\",dm_device=\"/dev/mapper/dmscale-scratch\","
			  "mountpoint=\"/var/lib/docker\"} 1");
	free(text);

	/* an unknown mode gets its own sample, an empty one none */
	st->pool.known = true;
	snprintf(st->pool.mode, sizeof(st->pool.mode), "new_mode");
	st->pool.needs_check = false;
	text = render_checked(st, &c);
	assert_line(text, "dmscale_thin_pool_mode{pool=\"scratch\",mode=\"new_mode\"} 1");
	assert_line(text, "dmscale_thin_pool_mode{pool=\"scratch\",mode=\"rw\"} 0");
	assert_line(text, "dmscale_thin_pool_needs_check{pool=\"scratch\"} 0");
	free(text);
	st->pool.mode[0] = '\0';
	text = render_checked(st, &c);
	assert_line(text, "dmscale_thin_pool_mode{pool=\"scratch\",mode=\"fail\"} 0");
	assert_no(text, "mode=\"\"");
	free(text);
	free_status(st);
}

static const char daemon_expected[] =
	"# HELP dmscale_daemon_up 1 if the provisioning daemon of the pool is running, else 0 (the daemon_* "
	"metrics below are its last state).\n"
	"# TYPE dmscale_daemon_up gauge\n"
	"dmscale_daemon_up{pool=\"scratch\"} 1\n"
	"# HELP dmscale_daemon_pool_ready 1 if the daemon sees the pool active and mounted, else 0.\n"
	"# TYPE dmscale_daemon_pool_ready gauge\n"
	"dmscale_daemon_pool_ready{pool=\"scratch\"} 1\n"
	"# HELP dmscale_daemon_ec2_ready 1 if the daemon's EC2 client is ready, else 0.\n"
	"# TYPE dmscale_daemon_ec2_ready gauge\n"
	"dmscale_daemon_ec2_ready{pool=\"scratch\"} 1\n"
	"# HELP dmscale_daemon_space_needed 1 if the daemon's policy wants more space (free below the threshold "
	"or filling too fast).\n"
	"# TYPE dmscale_daemon_space_needed gauge\n"
	"dmscale_daemon_space_needed{pool=\"scratch\"} 0\n"
	"# HELP dmscale_daemon_policy_reason_info Why the daemon's policy decided as it did (the reason of its "
	"last decision); always 1.\n"
	"# TYPE dmscale_daemon_policy_reason_info gauge\n"
	"dmscale_daemon_policy_reason_info{pool=\"scratch\",reason=\"no-need\"} 1\n"
	"# HELP dmscale_daemon_threshold_bytes Free bytes (of the filesystem; of the data space for a thin "
	"pool) below which the daemon provisions a volume.\n"
	"# TYPE dmscale_daemon_threshold_bytes gauge\n"
	"dmscale_daemon_threshold_bytes{pool=\"scratch\"} 26423943577\n"
	"# HELP dmscale_daemon_fill_rate_bytes_per_second Smoothed rate at which the pool fills (its "
	"filesystem; the data space for a thin pool).\n"
	"# TYPE dmscale_daemon_fill_rate_bytes_per_second gauge\n"
	"dmscale_daemon_fill_rate_bytes_per_second{pool=\"scratch\"} 104857600\n"
	"# HELP dmscale_daemon_time_to_full_seconds Seconds until the pool is full at the current fill rate "
	"(+Inf when not filling).\n"
	"# TYPE dmscale_daemon_time_to_full_seconds gauge\n"
	"dmscale_daemon_time_to_full_seconds{pool=\"scratch\"} +Inf\n"
	"# HELP dmscale_daemon_attach_latency_seconds Smoothed seconds from CreateVolume to the filesystem "
	"grown that the policy plans with (0 until measured).\n"
	"# TYPE dmscale_daemon_attach_latency_seconds gauge\n"
	"dmscale_daemon_attach_latency_seconds{pool=\"scratch\"} 41.25\n"
	"# HELP dmscale_daemon_volumes_in_flight Volumes attached by the daemon and waiting to be appended.\n"
	"# TYPE dmscale_daemon_volumes_in_flight gauge\n"
	"dmscale_daemon_volumes_in_flight{pool=\"scratch\"} 1\n"
	"# HELP dmscale_daemon_volumes_provisioned_total Volumes the daemon created and attached since it "
	"started.\n"
	"# TYPE dmscale_daemon_volumes_provisioned_total counter\n"
	"dmscale_daemon_volumes_provisioned_total{pool=\"scratch\"} 3\n"
	"# HELP dmscale_daemon_provisioning_failures_total Provisionings that failed (or whose volume was never "
	"appended) since the daemon started.\n"
	"# TYPE dmscale_daemon_provisioning_failures_total counter\n"
	"dmscale_daemon_provisioning_failures_total{pool=\"scratch\"} 1\n"
	"# HELP dmscale_daemon_ec2_api_calls_total EC2 API requests sent since the daemon started, retries "
	"included.\n"
	"# TYPE dmscale_daemon_ec2_api_calls_total counter\n"
	"dmscale_daemon_ec2_api_calls_total{pool=\"scratch\"} 42\n"
	"# HELP dmscale_daemon_ec2_api_retries_total EC2 API requests retried since the daemon started.\n"
	"# TYPE dmscale_daemon_ec2_api_retries_total counter\n"
	"dmscale_daemon_ec2_api_retries_total{pool=\"scratch\"} 5\n"
	"# HELP dmscale_daemon_ec2_api_throttled_total EC2 API responses that were throttling errors since the "
	"daemon started.\n"
	"# TYPE dmscale_daemon_ec2_api_throttled_total counter\n"
	"dmscale_daemon_ec2_api_throttled_total{pool=\"scratch\"} 2\n"
	"# HELP dmscale_daemon_last_attach_duration_seconds Seconds from CreateVolume to the stage of the last "
	"volume the daemon added: attached by EC2, or appended with the filesystem grown.\n"
	"# TYPE dmscale_daemon_last_attach_duration_seconds gauge\n"
	"dmscale_daemon_last_attach_duration_seconds{pool=\"scratch\",stage=\"attached\"} 12.75\n"
	"dmscale_daemon_last_attach_duration_seconds{pool=\"scratch\",stage=\"appended\"} 38.5\n"
	"# HELP dmscale_daemon_last_ec2_error_info Code of the last EC2 API error the daemon got; always 1.\n"
	"# TYPE dmscale_daemon_last_ec2_error_info gauge\n"
	"dmscale_daemon_last_ec2_error_info{pool=\"scratch\",code=\"RequestLimitExceeded\"} 1\n";

static void test_daemon(void **state)
{
	(void)state;
	struct dms_status *st = new_with_daemon(true);
	struct checked c;
	char *text = render_checked(st, &c);
	const char *d = strstr(text, "# HELP dmscale_daemon_up");
	assert_non_null(d);
	if (strcmp(d, daemon_expected))
		fprintf(stderr, "--- got ---\n%s", d);
	assert_string_equal(d, daemon_expected);
	/* the pool part is the linear one */
	assert_int_equal(strncmp(text, linear_expected, (size_t)(d - text)), 0);
	assert_int_equal(c.families, 15 + 16);
	free(text);
	free_status(st);

	/* a stale state file (daemon gone): its last values, up 0 */
	st = new_with_daemon(false);
	text = render_checked(st, &c);
	assert_line(text, "dmscale_daemon_up{pool=\"scratch\"} 0");
	assert_line(text, "dmscale_daemon_volumes_provisioned_total{pool=\"scratch\"} 3");
	free(text);

	/* an older daemon's state: keys absent, values not measured yet */
	json_t *dj = st->daemon;
	json_object_del(dj, "last_attach_s");
	json_object_set_new(dj, "last_create_to_attached_s", json_real(0));
	json_object_del(dj, "reason");
	json_object_set_new(dj, "last_error", json_string(""));
	json_object_set_new(dj, "time_to_full_s", json_integer(3600));
	json_object_del(dj, "throttled");
	st->daemon_running = true;
	text = render_checked(st, &c);
	assert_line(text, "dmscale_daemon_up{pool=\"scratch\"} 1");
	assert_line(text, "dmscale_daemon_time_to_full_seconds{pool=\"scratch\"} 3600");
	assert_no(text, "dmscale_daemon_last_attach_duration_seconds");
	assert_no(text, "dmscale_daemon_last_ec2_error_info");
	assert_no(text, "dmscale_daemon_policy_reason_info");
	assert_no(text, "dmscale_daemon_ec2_api_throttled_total");
	free(text);

	/* not watching the pool (not active and mounted): no policy view */
	json_object_set_new(dj, "pool_ready", json_false());
	text = render_checked(st, &c);
	assert_line(text, "dmscale_daemon_pool_ready{pool=\"scratch\"} 0");
	assert_no(text, "dmscale_daemon_space_needed");
	assert_no(text, "dmscale_daemon_policy_reason_info");
	assert_no(text, "dmscale_daemon_threshold_bytes");
	assert_no(text, "dmscale_daemon_fill_rate_bytes_per_second");
	assert_no(text, "dmscale_daemon_time_to_full_seconds");
	assert_line(text, "dmscale_daemon_attach_latency_seconds{pool=\"scratch\"} 41.25");
	assert_line(text, "dmscale_daemon_volumes_provisioned_total{pool=\"scratch\"} 3");
	free(text);

	/* a state that is not an object: only up */
	json_decref(dj);
	st->daemon = json_array();
	text = render_checked(st, &c);
	assert_line(text, "dmscale_daemon_up{pool=\"scratch\"} 1");
	assert_no(text, "dmscale_daemon_pool_ready");
	free(text);
	free_status(st);
}

static void test_hostile(void **state)
{
	(void)state;
	struct dms_status *st = new_hostile();
	struct checked c;
	char *text = render_checked(st, &c);
	assert_string_equal(c.pool, "a\"b\\c\nd");
	/* pool name and mount point escaped; nothing injected */
	assert_line(text, "dmscale_pool_members{pool=\"a\\\"b\\\\c\\nd\"} 2");
	assert_non_null(strstr(text, ",mountpoint=\"/mnt/x\\\"}\\n# TYPE evil gauge\\nevil{a=\\\"1\\\"} 1\"} 1\n"));
	assert_no(text, "\nevil");
	assert_no(text, "\n# TYPE evil");
	/* an unknown state is its own sample */
	assert_line(text, "dmscale_pool_state{pool=\"a\\\"b\\\\c\\nd\",state=\"weird\\\"state\"} 1");
	assert_line(text, "dmscale_pool_state{pool=\"a\\\"b\\\\c\\nd\",state=\"active\"} 0");
	/* volume ids: escapes, invalid UTF-8 replaced by U+FFFD, valid UTF-8 kept */
	assert_line(text, "dmscale_member_size_bytes{pool=\"a\\\"b\\\\c\\nd\",member=\"0\","
			  "volume_id=\"vol-\\\"\\\\\\n\xef\xbf\xbd\xc3\xa9\",device=\"/dev/x,y=\\\"z\\\"}\"} 107374182400");
	/* a surrogate, an overlong and > U+10FFFF: one U+FFFD per byte */
	char want[512] = "dmscale_member_present{pool=\"a\\\"b\\\\c\\nd\",member=\"1\",volume_id=\"";
	for (int i = 0; i < 9; i++)
		strcat(want, "\xef\xbf\xbd");
	strcat(want, "\",device=\"\"} 0");
	assert_line(text, want);
	assert_no(text, "dmscale_member_data_bytes{pool=\"a\\\"b\\\\c\\nd\",member=\"1\"");
	/* pending: the duplicate once */
	assert_line(text, "dmscale_pool_pending_volumes{pool=\"a\\\"b\\\\c\\nd\"} 3");
	assert_line(text, "dmscale_pool_pending_volume_info{pool=\"a\\\"b\\\\c\\nd\",volume_id=\"vol-\\\\n\"} 1");
	/* daemon: mistyped keys skipped, negative counter skipped, reals printed */
	assert_no(text, "dmscale_daemon_volumes_provisioned_total");
	assert_no(text, "dmscale_daemon_provisioning_failures_total");
	assert_no(text, "dmscale_daemon_ec2_api_retries_total");
	assert_no(text, "dmscale_daemon_pool_ready");
	assert_no(text, "dmscale_daemon_last_attach_duration_seconds");
	assert_line(text, "dmscale_daemon_ec2_api_calls_total{pool=\"a\\\"b\\\\c\\nd\"} 1e+300");
	assert_line(text, "dmscale_daemon_fill_rate_bytes_per_second{pool=\"a\\\"b\\\\c\\nd\"} 0.0015");
	assert_line(text, "dmscale_daemon_space_needed{pool=\"a\\\"b\\\\c\\nd\"} 1");
	assert_line(text, "dmscale_daemon_policy_reason_info{pool=\"a\\\"b\\\\c\\nd\",reason=\"x\\\"y\\\\z\\nw\"} 1");
	assert_line(text, "dmscale_daemon_last_ec2_error_info{pool=\"a\\\"b\\\\c\\nd\",code=\"A\\\"B\"} 1");
	free(text);
	free_status(st);
}

/* The checker itself rejects what it should. */
static void test_checker(void **state)
{
	(void)state;
	struct checked c;
	const char *ok = "# HELP dmscale_a A \\\\ and \\n.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\",x=\"\\\"\"} 1\n"
			 "# HELP dmscale_b_total B.\n# TYPE dmscale_b_total counter\ndmscale_b_total{pool=\"p\"} 2.5\n";
	assert_null(check_text(ok, &c));
	assert_int_equal(c.samples, 2);
	assert_int_equal(c.families, 2);
	static const char *const bad[] = {
		"",
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\"} 1",          /* no final \n */
		"dmscale_a{pool=\"p\"} 1\n",                                                      /* no HELP/TYPE */
		"# TYPE dmscale_a gauge\n# HELP dmscale_a A.\ndmscale_a{pool=\"p\"} 1\n",          /* order */
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_b{pool=\"p\"} 1\n",          /* other family */
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\"} 1\ndmscale_a{pool=\"p\"} 2\n",
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\"} 1 1700000000\n", /* timestamp */
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\"} one\n",
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\"}\n",
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\",x=\"\\t\"} 1\n", /* bad escape */
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\",pool=\"q\"} 1\n",
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{x=\"p\"} 1\n",              /* no pool */
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\"} 1\n"
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\n",                                   /* family twice */
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\n",                                   /* no samples */
		"# HELP dmscale_a A.\n# TYPE dmscale_a counter\ndmscale_a{pool=\"p\"} 1\n",        /* _total */
		"# HELP dmscale_a_total A.\n# TYPE dmscale_a_total counter\ndmscale_a_total{pool=\"p\"} -1\n",
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\",x=\"a\nb\"} 1\n", /* raw newline */
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"\xff\"} 1\n",       /* not UTF-8 */
		"# HELP dmscale_a A \\q.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\"} 1\n",
		"# HELP dmscale_a A.\n# TYPE dmscale_a summary\ndmscale_a{pool=\"p\"} 1\n",
		"# HELP dmscale_a A.\n# TYPE dmscale_a gauge\ndmscale_a{pool=\"p\"} 1\n"
		"# HELP dmscale_b B.\n# TYPE dmscale_b gauge\ndmscale_b{pool=\"q\"} 1\n",          /* pool changed */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = check_text(bad[i], &c);
		if (!why)
			fprintf(stderr, "checker accepted case %zu: %s\n", i, bad[i]);
		assert_non_null(why);
	}
}

static void test_errors(void **state)
{
	(void)state;
	struct dms_status *st = new_linear();
	char *text = (char *)1;
	size_t len = 1;
	assert_int_equal(dms_status_print_prometheus(NULL, stdout), -EINVAL);
	assert_int_equal(dms_status_print_prometheus(st, NULL), -EINVAL);
	assert_int_equal(dms_metrics_format(NULL, &text, &len), -EINVAL);
	assert_null(text);
	assert_int_equal(len, 0);
	FILE *full = fopen("/dev/full", "we");
	if (full) {   /* every write fails with ENOSPC */
		assert_int_equal(dms_status_print_prometheus(st, full), -EIO);
		fclose(full);
	}
	free_status(st);
}

/* ---- the textfile writer ------------------------------------------------------------ */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	assert_true(n >= 0);
	return buf;
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_textfile(void **state)
{
	(void)state;
	char dir[] = "/tmp/dmscale-metrics-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], tmp[300], victim[256], missing[256];
	snprintf(path, sizeof(path), "%s/dmscale.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(missing, sizeof(missing), "%s/nope/dmscale.prom", dir);
	struct dms_status *st = new_linear();
	struct checked c;

	/* written, readable by node_exporter whatever the umask, nothing left over */
	mode_t old = umask(077);
	assert_int_equal(dms_metrics_write_textfile(path, st, NULL, false), 0);
	umask(old);
	char *got = slurp(path);
	assert_string_equal(got, linear_expected);
	free(got);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(count_entries(dir), 1);

	/* with the daemon's state text: its view, *st untouched */
	char state_json[sizeof(daemon_json) + 32];
	snprintf(state_json, sizeof(state_json), "{\"pid\":1,%s", daemon_json + 1);
	assert_int_equal(dms_metrics_write_textfile(path, st, state_json, true), 0);
	assert_null(st->daemon);
	got = slurp(path);
	assert_null(check_text(got, &c));
	assert_non_null(strstr(got, daemon_expected));
	free(got);
	/* unparsable state (a quote in last_result): still says it runs */
	assert_int_equal(dms_metrics_write_textfile(path, st, "{\"last_result\":\"a\"b\"}", true), 0);
	got = slurp(path);
	assert_null(check_text(got, &c));
	assert_line(got, "dmscale_daemon_up{pool=\"scratch\"} 1");
	assert_no(got, "dmscale_daemon_pool_ready");
	free(got);
	/* stopping */
	assert_int_equal(dms_metrics_write_textfile(path, st, state_json, false), 0);
	got = slurp(path);
	assert_line(got, "dmscale_daemon_up{pool=\"scratch\"} 0");
	free(got);

	/* a stale temporary of ours is replaced; a symlink there is not followed */
	FILE *f = fopen(tmp, "we");
	assert_non_null(f);
	fputs("stale", f);
	fclose(f);
	assert_int_equal(dms_metrics_write_textfile(path, st, NULL, false), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	f = fopen(victim, "we");
	assert_non_null(f);
	fputs("precious", f);
	fclose(f);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(dms_metrics_write_textfile(path, st, NULL, false), 0);
	got = slurp(victim);
	assert_string_equal(got, "precious");
	free(got);
	assert_int_equal(lstat(tmp, &sb), -1);
	got = slurp(path);
	assert_string_equal(got, linear_expected);
	free(got);
	assert_int_equal(count_entries(dir), 2);   /* dmscale.prom, victim */

	/* errors */
	assert_int_equal(dms_metrics_write_textfile(missing, st, NULL, false), -ENOENT);
	assert_int_equal(dms_metrics_write_textfile("rel.prom", st, NULL, false), -EINVAL);
	assert_int_equal(dms_metrics_write_textfile(NULL, st, NULL, false), -EINVAL);
	assert_int_equal(dms_metrics_write_textfile(path, NULL, NULL, false), -EINVAL);
	char *longp = malloc(8192);
	assert_non_null(longp);
	memset(longp, 'a', 8191);
	longp[0] = '/';
	longp[8191] = '\0';
	assert_int_equal(dms_metrics_write_textfile(longp, st, NULL, false), -ENAMETOOLONG);
	free(longp);
	/* the target is a directory: rename fails, the temporary is removed */
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/d.prom", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(dms_metrics_write_textfile(sub, st, NULL, false), -EISDIR);
	assert_int_equal(count_entries(dir), 3);
	rmdir(sub);

	unlink(path);
	unlink(victim);
	assert_int_equal(rmdir(dir), 0);
	free_status(st);
}

static int dump(const char *which)
{
	struct dms_status *st = !strcmp(which, "linear")    ? new_linear()
				: !strcmp(which, "thin")    ? new_thin()
				: !strcmp(which, "daemon")  ? new_with_daemon(true)
				: !strcmp(which, "hostile") ? new_hostile()
							    : NULL;
	if (!st) {
		fprintf(stderr, "usage: test_metrics [--dump linear|thin|daemon|hostile]\n");
		return 2;
	}
	int r = dms_status_print_prometheus(st, stdout);
	free_status(st);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--dump"))
		return dump(argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_exact),
		cmocka_unit_test(test_inactive_unprivileged),
		cmocka_unit_test(test_thin),
		cmocka_unit_test(test_daemon),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_checker),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_textfile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
