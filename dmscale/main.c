/* dmscale command line: options, then one command of pool.c or status.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmscale/cli.h"
#include "dmscale/log.h"
#include "dmscale/label.h"
#include "dmscale/pool.h"
#include "dmscale/status.h"
#include "dmscale/thin.h"
#include "dmscale/units.h"

#define DMS_CONFIG_PATH "/etc/dmscale/dmscale.json"   /* ec2/config.h; for the usage text */

int dms_cmd_daemon(int argc, char **argv) __attribute__((weak));

static const char *const usage_main =
	"usage: dmscale [--verbose|--quiet] COMMAND [OPTIONS]\n"
	"\n"
	"Keep a scratch filesystem from running out of space by growing it over EBS volumes.\n"
	"\n"
	"commands:\n"
	"  init      label a blank volume, create the pool, mkfs, mount (reassembles if labelled)\n"
	"  attach    append a volume to a live pool and grow its filesystem online\n"
	"  assemble  find members by label, activate complete pools, mount\n"
	"  status    show a pool (--json for scripts)\n"
	"  daemon    watch free space and provision EBS volumes\n"
	"\n"
	"Run 'dmscale COMMAND --help' for a command's options. Version: " DMSCALE_VERSION "\n";

static const char *const usage_init =
	"usage: dmscale init [--name NAME] [--mountpoint DIR] [--fs ext4|xfs|btrfs]\n"
	"                    [--target linear|thin] [--virtual-size SIZE] [--instance-store auto|off]\n"
	"                    [--force] DEVICE\n"
	"\n"
	"On a blank DEVICE: write the member label, create /dev/mapper/dmscale-NAME, mkfs and\n"
	"mount at DIR. On a DEVICE already labelled for NAME: reassemble and mount, never\n"
	"format. Refuses devices with any signature (unless --force), in use, the root disk, or\n"
	"smaller than 1 GiB.\n"
	"  --name NAME          pool name (default scratch)\n"
	"  --mountpoint DIR     where to mount (default /var/lib/docker)\n"
	"  --fs TYPE            ext4 (default), xfs or btrfs\n"
	"  --target linear      dm-linear over the members; the filesystem grows online (default)\n"
	"  --target thin        a dm-thin pool over the members and one thin volume of SIZE; the\n"
	"                       filesystem is never resized, a fill faster than provisioning stalls\n"
	"                       (up to the kernel's no_space_timeout) instead of failing\n"
	"  --virtual-size SIZE  thin volume size, e.g. 2T (K/M/G/T/P suffixes, powers of 1024;\n"
	"                       default: max_total_gib of " DMS_CONFIG_PATH ", 16T)\n"
	"  --instance-store auto  the pool's first tier is the blank instance-store NVMe disks\n"
	"                       (dm-stripe over two or more, 256 KiB chunks), DEVICE after them\n"
	"                       (default; config key instance_store). off: DEVICE only\n"
	"  --force              overwrite existing signatures (the data on DEVICE is lost)\n";

static const char *const usage_attach =
	"usage: dmscale attach [--name NAME] [--udev] [--force] DEVICE\n"
	"\n"
	"Append DEVICE to the live pool (one table reload) and grow the mounted filesystem.\n"
	"  --name NAME   pool (default scratch)\n"
	"  --udev        called by udev for every new disk: claim only volumes the daemon recorded\n"
	"                as pending, or devices carrying a dmscale label; ignore anything else\n"
	"  --force       accept a device holding a signature (its data is lost)\n";

static const char *const usage_assemble =
	"usage: dmscale assemble [--name NAME | --all] [--wait-members SECONDS]\n"
	"\n"
	"Find members by label on all block devices, activate the pool if its member set is\n"
	"complete, mount it and finish any interrupted growth. Refuses an incomplete pool and\n"
	"names the missing volumes.\n"
	"  --wait-members S  an incomplete pool: wait up to S seconds (default 0) for the\n"
	"                    missing members, rescanning when udev adds a block device\n"
	"A pool whose instance-store members came back blank (stop/start) is recreated empty\n"
	"at a new pool uuid from the blank disks and its EBS members, or refused when the\n"
	"config sets \"scratch_recreate\": false.\n";

static const char *const usage_status =
	"usage: dmscale status [--name NAME] [--json | --prometheus]\n"
	"\n"
	"Show the pool: target, state, size, filesystem usage, thin pool usage, members,\n"
	"pending volumes, the daemon's view. Without root, members come from sysfs only.\n"
	"  --json         one JSON object (stable keys, for scripts)\n"
	"  --prometheus   Prometheus text exposition format (node_exporter textfile collector)\n";

enum { OPT_NAME = 1000, OPT_MP, OPT_FS, OPT_FORCE, OPT_UDEV, OPT_JSON, OPT_ALL, OPT_HELP, OPT_TARGET, OPT_VSIZE,
       OPT_PROM, OPT_WAIT, OPT_ISTORE };

static const struct option common_opts[] = {
	{ "name", required_argument, NULL, OPT_NAME },
	{ "mountpoint", required_argument, NULL, OPT_MP },
	{ "fs", required_argument, NULL, OPT_FS },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "udev", no_argument, NULL, OPT_UDEV },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "virtual-size", required_argument, NULL, OPT_VSIZE },
	{ "prometheus", no_argument, NULL, OPT_PROM },
	{ "wait-members", required_argument, NULL, OPT_WAIT },
	{ "instance-store", required_argument, NULL, OPT_ISTORE },
	{ NULL, 0, NULL, 0 },
};

/* Parse options; `allowed` lists the option ids the command accepts. */
static int parse(int argc, char **argv, struct dms_opts *o, const int *allowed, const char *usage,
		 int want_device, const char **device)
{
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", common_opts, NULL)) != -1) {
		if (c == 'h' || c == OPT_HELP) {
			fputs(usage, stdout);
			exit(0);
		}
		int ok = 0;
		for (const int *a = allowed; *a; a++)
			ok |= *a == c;
		if (!ok) {
			fprintf(stderr, "dmscale %s: unknown or misplaced option\n%s", argv[0], usage);
			return -EINVAL;
		}
		switch (c) {
		case OPT_NAME: o->name = optarg; break;
		case OPT_MP:
			if (optarg[0] != '/') {
				log_error("--mountpoint must be an absolute path, not '%s'", optarg);
				return -EINVAL;
			}
			o->mountpoint = optarg;
			break;
		case OPT_FS: o->fstype = optarg; break;
		case OPT_FORCE: o->force = true; break;
		case OPT_UDEV: o->udev = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_ALL: o->all = true; break;
		case OPT_PROM: o->prometheus = true; break;
		case OPT_WAIT: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v > 3600) {
				log_error("--wait-members: '%s' is not a number of seconds from 0 to 3600", optarg);
				return -EINVAL;
			}
			o->wait_members_s = (unsigned)v;
			break;
		}
		case OPT_ISTORE:
			if (strcmp(optarg, "auto") && strcmp(optarg, "off")) {
				log_error("--instance-store must be auto or off, not '%s'", optarg);
				return -EINVAL;
			}
			o->instance_store_off = !strcmp(optarg, "off");
			o->instance_store_set = true;
			break;
		case OPT_TARGET:
			if (!strcmp(optarg, "linear"))
				o->target = DMS_TARGET_LINEAR;
			else if (!strcmp(optarg, "thin"))
				o->target = DMS_TARGET_THIN;
			else {
				log_error("--target must be linear or thin, not '%s'", optarg);
				return -EINVAL;
			}
			break;
		case OPT_VSIZE:
			if (dms_parse_size(optarg, &o->virtual_bytes) < 0 || o->virtual_bytes < GIB) {
				log_error("--virtual-size: '%s' is not a size of at least 1G (e.g. 512G, 16T)", optarg);
				return -EINVAL;
			}
			break;
		}
	}
	int rest = argc - optind;
	if (want_device) {
		if (rest != 1) {
			fprintf(stderr, "dmscale %s: exactly one DEVICE expected\n%s", argv[0], usage);
			return -EINVAL;
		}
		*device = argv[optind];
	} else if (rest != 0) {
		fprintf(stderr, "dmscale %s: unexpected argument '%s'\n%s", argv[0], argv[optind], usage);
		return -EINVAL;
	}
	return 0;
}

static char **main_argv;

/* The command-line front hands the whole command to the daemon's binary
 * (exec: returns only on failure). */
static int delegate(void)
{
	if (&dms_cli_hooks && dms_cli_hooks.delegate)
		return dms_cli_hooks.delegate(main_argv);
	return -ENOTSUP;
}

/* A device name as the operator gave it, resolved by the EC2 side if linked
 * in; in the front, a name only the EC2 side can resolve sends it there. */
static int resolve(const char *requested, char *node, size_t len)
{
	if (&dms_cli_hooks && dms_cli_hooks.resolve_device) {
		int r = dms_cli_hooks.resolve_device(requested, node, len);
		return r == -EXDEV ? delegate() : r;
	}
	snprintf(node, len, "%s", requested);
	return 0;
}

static void pool_defaults(struct dms_opts *o)
{
	if (&dms_cli_hooks && dms_cli_hooks.pool_defaults)
		dms_cli_hooks.pool_defaults(o);
}

int main(int argc, char **argv)
{
	struct dms_opts o = { .name = DMS_DEFAULT_NAME, .fstype = DMS_DEFAULT_FS, .target = DMS_TARGET_LINEAR };
	const char *device = NULL;
	int r, argi = 1;

	main_argv = argv;

	/* Like systemd: use journal priorities only if stderr really is the journal stream. */
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long jdev, jino;
	if (js && sscanf(js, "%llu:%llu", &jdev, &jino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == jdev && (unsigned long long)st.st_ino == jino)
		log_set_journal_prefix(1);
	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (!strcmp(argv[argi], "--version")) {
			printf("dmscale %s\n", DMSCALE_VERSION);
			return 0;
		} else if (!strcmp(argv[argi], "--help") || !strcmp(argv[argi], "-h")) {
			fputs(usage_main, stdout);
			return 0;
		} else if (!strcmp(argv[argi], "--verbose") || !strcmp(argv[argi], "-v")) {
			log_set_level(LOG_LVL_DEBUG);
		} else if (!strcmp(argv[argi], "--quiet") || !strcmp(argv[argi], "-q")) {
			log_set_level(LOG_LVL_WARN);
		} else {
			fprintf(stderr, "dmscale: unknown option '%s'\n%s", argv[argi], usage_main);
			return 2;
		}
	}
	if (argi >= argc) {
		fputs(usage_main, stderr);
		return 2;
	}
	const char *cmd = argv[argi];
	int cargc = argc - argi;
	char **cargv = argv + argi;

#ifdef DMS_ATTACH_ONLY
	/* dmscale-attach: the udev unit's binary, linked without the daemon's
	 * libraries (libcurl, libxml2, OpenSSL, jansson) so that a udev-started
	 * attach loads only what it uses. It reads no daemon configuration: a
	 * thin pool's reload keeps the live low water mark (set at assembly). */
	if (strcmp(cmd, "attach")) {
		fprintf(stderr, "this binary only attaches (the udev unit's); run: dmscale %s\n", cmd);
		return 2;
	}
#endif
	if (!strcmp(cmd, "init")) {
		static const int a[] = { OPT_NAME, OPT_MP, OPT_FS, OPT_FORCE, OPT_TARGET, OPT_VSIZE, OPT_ISTORE, 0 };
		if (parse(cargc, cargv, &o, a, usage_init, 1, &device) < 0)
			return 2;
		if (o.virtual_bytes && o.target != DMS_TARGET_THIN) {
			log_error("--virtual-size only applies to --target thin");
			return 2;
		}
		char node[256];
		pool_defaults(&o);
		r = resolve(device, node, sizeof(node));
		if (r == 0)
			r = dms_cmd_init(&o, node);
	} else if (!strcmp(cmd, "attach")) {
		static const int a[] = { OPT_NAME, OPT_UDEV, OPT_FORCE, 0 };
		if (parse(cargc, cargv, &o, a, usage_attach, 1, &device) < 0)
			return 2;
		char node[256];
		pool_defaults(&o);
		r = o.udev ? 0 : resolve(device, node, sizeof(node));
		if (r == 0)
			r = dms_cmd_attach(&o, o.udev ? device : node);
	} else if (!strcmp(cmd, "assemble")) {
		static const int a[] = { OPT_NAME, OPT_ALL, OPT_MP, OPT_WAIT, 0 };
		if (parse(cargc, cargv, &o, a, usage_assemble, 0, NULL) < 0)
			return 2;
		pool_defaults(&o);
		r = dms_cmd_assemble(&o);
	} else if (!strcmp(cmd, "status")) {
		static const int a[] = { OPT_NAME, OPT_JSON, OPT_PROM, 0 };
		if (parse(cargc, cargv, &o, a, usage_status, 0, NULL) < 0)
			return 2;
		if (o.json && o.prometheus) {
			log_error("--json and --prometheus are exclusive");
			return 2;
		}
#ifndef DMS_ATTACH_ONLY
		r = dms_cmd_status(o.name, o.json, o.prometheus);
#else
		r = -ENOTSUP;
#endif
	} else if (!strcmp(cmd, "daemon")) {
		if (!dms_cmd_daemon) {
			r = delegate();
			if (r == -ENOTSUP)
				log_error("this build has no daemon");
			return 1;
		}
		r = dms_cmd_daemon(cargc, cargv);
	} else {
		fprintf(stderr, "dmscale: unknown command '%s'\n%s", cmd, usage_main);
		return 2;
	}
	return r < 0 ? 1 : 0;
}
