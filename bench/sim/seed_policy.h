/* A model of amazon-ebs-autoscale's policy (bin/ebs-autoscale at the commit in
 * ../shared/peers/amazon-ebs-autoscale/UPSTREAM-COMMIT, defaults from its
 * install.sh and config/ebs-autoscale.json): every detection_interval (2 s)
 * `df -BG` (sizes rounded up to GiB, use% rounded up); when use% >= the
 * threshold, add a volume. Threshold and size depend on the number of volumes
 * it attached (counting the initial one):
 *   devices 1..3: 50 %, min_ebs_volume_size (150 GiB)
 *   devices 4..6: 80 %, 300 GiB
 *   devices 7..10: 90 %, 1000 GiB
 *   devices > 10: 90 %, max_ebs_volume_size (1500 GiB)
 * at most max_ebs_volume_count (16) volumes, no volume once the filesystem is
 * max_logical_volume_size (8000 GiB) or more. */
#ifndef DMSCALE_SIM_SEED_POLICY_H
#define DMSCALE_SIM_SEED_POLICY_H
#include <stdbool.h>
#include <stdint.h>

#define SEED_DETECTION_INTERVAL_S 2.0
#define SEED_INITIAL_GIB 200
#define SEED_MIN_VOLUME_GIB 150
#define SEED_MAX_VOLUME_GIB 1500
#define SEED_MAX_LOGICAL_GIB 8000
#define SEED_MAX_VOLUMES 16
#define SEED_INITIAL_THRESHOLD_PCT 50

unsigned seed_threshold_pct(unsigned num_devices);
uint64_t seed_new_size_gib(unsigned num_devices);
/* df -BG's use%: ceil(100 × used / (used + avail)) over sizes in bytes */
unsigned seed_df_pct(double used_bytes, double avail_bytes);
/* 0: no volume; else its size in GiB */
uint64_t seed_decide(double total_bytes, double used_bytes, unsigned num_devices);

#endif
