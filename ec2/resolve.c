/* Resolving the device name an operator gave (/dev/xvdba) to its NVMe node:
 * NVMe Identify, else EC2 block device mappings. See resolve.h. */
#include "ec2/resolve.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmscale/ebsname.h"
#include "dmscale/log.h"
#include "ec2/config.h"
#include "ec2/ec2.h"
#include "ec2/names.h"

/* First namespace block device of controller `ctrl` ("nvme3" -> "/dev/nvme3n1"). */
static int ctrl_namespace(const char *ctrl, char *out, size_t outlen)
{
	char path[300];
	snprintf(path, sizeof(path), "/sys/class/nvme/%s", ctrl);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *de;
	int r = -ENOENT;
	size_t cl = strlen(ctrl);
	while ((de = readdir(d))) {
		/* the namespace directory: "nvme3n1" under controller "nvme3" */
		if (strncmp(de->d_name, ctrl, cl) || de->d_name[cl] != 'n')
			continue;
		if ((size_t)snprintf(out, outlen, "/dev/%s", de->d_name) < outlen)
			r = 0;
		break;
	}
	closedir(d);
	return r;
}

static int by_identify(const char *requested, char *out, size_t outlen)
{
	DIR *d = opendir("/sys/class/nvme");
	if (!d)
		return -ENOENT;
	struct dirent *de;
	int r = -ENOENT;
	void *buf = NULL;
	if (posix_memalign(&buf, 4096, NVME_IDENTIFY_BYTES)) {
		closedir(d);
		return -ENOMEM;
	}
	while (r == -ENOENT && (de = readdir(d))) {
		if (strncmp(de->d_name, "nvme", 4) || strlen(de->d_name) > 32)
			continue;
		char node[64], name[64];
		snprintf(node, sizeof(node), "/dev/%.32s", de->d_name);
		int fd = open(node, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct nvme_admin_cmd cmd;
		memset(&cmd, 0, sizeof(cmd));
		memset(buf, 0, NVME_IDENTIFY_BYTES);
		cmd.opcode = 0x06;               /* Identify */
		cmd.cdw10 = 1;                   /* CNS 1: controller */
		cmd.addr = (uint64_t)(uintptr_t)buf;
		cmd.data_len = NVME_IDENTIFY_BYTES;
		cmd.timeout_ms = 5000;
		int ok = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd) == 0;
		close(fd);
		if (!ok || dms_ebs_identify_devname(buf, NVME_IDENTIFY_BYTES, name, sizeof(name)) < 0)
			continue;
		if (dms_ebs_name_matches(requested, name) && ctrl_namespace(de->d_name, out, outlen) == 0) {
			log_info("%s: resolved to %s (EBS device name in NVMe Identify Controller)", requested, out);
			r = 0;
		}
	}
	closedir(d);
	free(buf);
	return r;
}

/* NVMe controller whose serial is the volume id without its dash. */
int dms_nvme_node_by_volume_id(const char *volume_id, char *out, size_t outlen)
{
	char want[40];
	if (!dms_valid_volume_id(volume_id))
		return -EINVAL;
	snprintf(want, sizeof(want), "vol%s", volume_id + 4);
	DIR *d = opendir("/sys/class/nvme");
	if (!d)
		return -ENOENT;
	struct dirent *de;
	int r = -ENOENT;
	while (r == -ENOENT && (de = readdir(d))) {
		if (strncmp(de->d_name, "nvme", 4) || strlen(de->d_name) > 32)
			continue;
		char path[300], serial[64] = "";
		snprintf(path, sizeof(path), "/sys/class/nvme/%s/serial", de->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(serial, sizeof(serial), f))
			serial[strcspn(serial, " \n")] = '\0';
		fclose(f);
		if (!strcmp(serial, want) && ctrl_namespace(de->d_name, out, outlen) == 0)
			r = 0;
	}
	closedir(d);
	return r;
}

static int by_ec2(const char *requested, char *out, size_t outlen)
{
	struct dms_config *cfg = calloc(1, sizeof(*cfg));
	struct ec2_client *c = calloc(1, sizeof(*c));
	struct ec2_bdm *bdm = calloc(64, sizeof(*bdm));
	size_t n = 0;
	int r = -ENOMEM;
	if (!cfg || !c || !bdm)
		goto out;
	if ((r = dms_config_load(NULL, cfg)) < 0)
		goto out;
	if ((r = ec2_client_init(c, cfg, NULL)) < 0)
		goto out_client;
	if ((r = ec2_list_block_devices(c, bdm, 64, &n)) < 0)
		goto out_client;
	r = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (!dms_ebs_name_matches(requested, bdm[i].device_name))
			continue;
		r = dms_nvme_node_by_volume_id(bdm[i].volume_id, out, outlen);
		if (r == 0)
			log_info("%s: resolved to %s (EC2 block device mapping: %s)", requested, out,
				 bdm[i].volume_id);
		else
			log_error("%s: EC2 maps it to %s, but no NVMe device has that serial yet", requested,
				  bdm[i].volume_id);
		break;
	}
out_client:
	ec2_client_free(c);
out:
	if (cfg)
		dms_config_wipe_secrets(cfg);
	free(cfg);
	free(c);
	free(bdm);
	return r;
}

int dms_resolve_device(const char *requested, char *out, size_t outlen)
{
	int r = dms_resolve_local(requested, out, outlen);
	if (r != -EXDEV)
		return r;
	if (by_identify(requested, out, outlen) == 0)
		return 0;
	if (by_ec2(requested, out, outlen) == 0)
		return 0;
	return log_error_errno(ENOENT, "%s: no such device, and neither NVMe Identify data nor EC2 block device "
			       "mappings name an attached volume by it; check the launch template's device name",
			       requested);
}
