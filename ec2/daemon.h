/* `dmscale daemon`: watch a pool's free space and provision EBS volumes.
 *
 * One thread, one loop: every poll_interval_ms a statvfs of the pool's
 * mountpoint (no fork, no allocation), an EWMA fill rate, policy_decide().
 * When the policy says so, ec2_provision_volume() runs with a stage callback
 * that records the volume id in the pool's pending list before AttachVolume
 * and drops it when the volume is deleted; the daemon then waits (bounded by
 * attach_timeout_s) for `dmscale attach --udev` to append the device, which
 * removes the id from the pending list. The measured latency (CreateVolume
 * sent -> filesystem grown) feeds the policy's fill-rate rule.
 *
 * A volume that never makes it into the pool is taken out of the pending list
 * under the pool lock and deleted only if the keep-or-delete decision
 * (decide.h) says so: not a member of the pool AND no label of its own; an
 * unknown membership or a labelled volume is kept. One that cannot be
 * deleted now is retried (the decision made again first).
 * Files: daemon.c (command line, loop), daemon_pool.c, daemon_volumes.c,
 * state.c (the state file's JSON), connect.c (EC2 client bring-up).
 * SIGTERM/SIGINT stop the loop; a provisioning in progress is aborted at its
 * next stage (its volume is deleted), a wait for the append is left to the
 * next start, which adopts the pending volumes it finds.
 */
#ifndef DMSCALE_EC2_DAEMON_H
#define DMSCALE_EC2_DAEMON_H

/* argv[0] is "daemon". Returns 0 or -errno. */
int dms_cmd_daemon(int argc, char **argv);

#endif
