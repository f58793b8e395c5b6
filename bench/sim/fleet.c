/* The fleet: daemons as coroutines over one simulated EC2. See fleet.h. */
#include "bench/sim/fleet.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <valgrind/valgrind.h>

#include "bench/sim/ec2sim.h"
#include "bench/sim/latency.h"
#include "dmscale/log.h"
#include "dmscale/units.h"
#include "ec2/config.h"
#include "ec2/decide.h"
#include "ec2/ec2.h"
#include "ec2/policy.h"

#define STACK_SIZE (512 * 1024)
#define G ((double)GIB)
#define MAX_RETRY_DEL 8
#define RETRY_DELETE_S 60.0   /* as daemon_priv.h */

enum { EV_TICK, EV_WAKE };
enum { JOB_PROVISION, JOB_CLEANUP };

struct event {
	double t;
	uint64_t seq;
	unsigned idx;
	int kind;
};

struct fleet;

struct fdaemon {
	struct fleet *F;
	unsigned idx;
	const struct trace *tr;
	double t0;
	char iid[24];
	struct ec2_client c;
	struct fill_rate fr;
	struct sim_rng rng;
	double cap, att_lat, next_provision, backoff_state;
	uint32_t members;
	bool pending;           /* a volume attached or attaching: capacity arrives at t_grown */
	double t_grown, t_prov_start, t_need_of_job;
	uint64_t pending_gib;
	char pending_vol[24];
	bool observed;          /* pending volume grown but not yet seen by a tick */
	bool needed;
	double t_needed;
	bool short_now;
	bool busy;
	int job;
	uint64_t job_size;
	int job_r;
	ucontext_t uc;
	void *stack;
	unsigned vg_stack;
	char retry_del[MAX_RETRY_DEL][24];
	size_t n_retry;
	double next_retry;
	bool finished;
	double ratio_end;
};

struct fleet {
	const struct fleet_opts *o;
	struct ec2sim sim;
	struct policy_limits lim;
	double now, rtt;
	ucontext_t sched;
	struct event *heap;
	size_t n_heap, cap_heap;
	uint64_t seq;
	double *tts;
	size_t n_tts, cap_tts;
	struct fdaemon *d;
	struct fdaemon *cur;
	struct fleet_result *r;
};

static struct fleet *g_fleet;   /* the coroutine entry point's way to its fleet (one at a time) */

/* ---- event heap (time, then insertion order) ---- */
static bool ev_less(const struct event *a, const struct event *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int push(struct fleet *F, double t, unsigned idx, int kind)
{
	if (F->n_heap == F->cap_heap) {
		size_t nc = F->cap_heap ? F->cap_heap * 2 : 1024;
		struct event *nh = realloc(F->heap, nc * sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		F->heap = nh;
		F->cap_heap = nc;
	}
	size_t i = F->n_heap++;
	F->heap[i] = (struct event){t, F->seq++, idx, kind};
	while (i && ev_less(&F->heap[i], &F->heap[(i - 1) / 2])) {
		struct event tmp = F->heap[i];
		F->heap[i] = F->heap[(i - 1) / 2];
		F->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
	return 0;
}

static struct event pop(struct fleet *F)
{
	struct event top = F->heap[0];
	F->heap[0] = F->heap[--F->n_heap];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < F->n_heap && ev_less(&F->heap[l], &F->heap[m]))
			m = l;
		if (l + 1 < F->n_heap && ev_less(&F->heap[l + 1], &F->heap[m]))
			m = l + 1;
		if (m == i)
			break;
		struct event tmp = F->heap[i];
		F->heap[i] = F->heap[m];
		F->heap[m] = tmp;
		i = m;
	}
	return top;
}

/* ---- the seams: clock and transport of each daemon's EC2 client ---- */
static void yield_for(struct fdaemon *d, double dt_s)
{
	struct fleet *F = d->F;
	(void)push(F, F->now + (dt_s > 0 ? dt_s : 0), d->idx, EV_WAKE);
	swapcontext(&d->uc, &F->sched);
}

static double k_mono(void *ud) { return ((struct fdaemon *)ud)->F->now; }
static time_t k_wall(void *ud) { return (time_t)1700000000 + (time_t)((struct fdaemon *)ud)->F->now; }
static void k_sleep(void *ud, unsigned ms) { yield_for(ud, ms / 1000.0); }

static int t_send(void *ud, const struct http_request *req, struct http_response *resp)
{
	struct fdaemon *d = ud;
	yield_for(d, d->F->rtt);
	return ec2sim_handle(&d->F->sim, (int)d->idx, d->iid, d->F->now, req, resp);
}

static void remember_delete(struct fdaemon *d, const char *vol)
{
	for (size_t i = 0; i < d->n_retry; i++)
		if (!strcmp(d->retry_del[i], vol))
			return;
	if (d->n_retry < MAX_RETRY_DEL)
		snprintf(d->retry_del[d->n_retry++], sizeof(d->retry_del[0]), "%s", vol);
	d->next_retry = d->F->now + RETRY_DELETE_S;
}

/* The daemon's stage callback, reduced to what the fleet needs: the attach
 * brings capacity after the grow; a failed provisioning keeps a volume that
 * joined the pool and deletes any other (as daemon_on_stage + decide.h). */
static int on_stage(void *ud, enum ec2_stage stage, const char *vol, const char *token, const char *dev)
{
	struct fdaemon *d = ud;
	(void)token;
	(void)dev;
	struct sim_volume *v;
	switch (stage) {
	case EC2_STAGE_ATTACHING:
		v = ec2sim_volume(&d->F->sim, vol);
		if (!v)
			return -ENOENT;
		d->pending = true;
		d->t_grown = v->t_attached + sim_rng_lognormal(&d->rng, 1.5, 0.5);   /* latency.h's grow */
		d->pending_gib = v->size_gib;   /* a re-sent unanswered CreateVolume keeps its first size */
		snprintf(d->pending_vol, sizeof(d->pending_vol), "%s", vol);
		return 0;
	case EC2_STAGE_CLEANUP_CHECK:
		if (d->pending && !strcmp(d->pending_vol, vol) && d->F->now >= d->t_grown)
			return 1;   /* appended: a member, kept */
		if (d->pending && !strcmp(d->pending_vol, vol))
			d->pending = false;   /* taken out of pending before it joined */
		return 0;
	case EC2_STAGE_CLEANUP_FAILED:
		remember_delete(d, vol);
		return 0;
	default:
		return 0;
	}
}

static void co_main(void)
{
	struct fleet *F = g_fleet;
	struct fdaemon *d = F->cur;
	if (d->job == JOB_PROVISION) {
		char vol[EC2_ID_MAX];
		d->job_r = ec2_provision_volume(&d->c, F->o->cfg, d->job_size, vol);
	} else {
		size_t keep = 0;
		for (size_t i = 0; i < d->n_retry; i++) {
			char vol[24];
			snprintf(vol, sizeof(vol), "%s", d->retry_del[i]);
			if (ec2_cleanup_volume(&d->c, vol, F->o->cfg->attach_timeout_s) < 0)
				snprintf(d->retry_del[keep++], sizeof(d->retry_del[0]), "%s", vol);
		}
		d->n_retry = keep;
		d->next_retry = F->now + RETRY_DELETE_S;
	}
	d->busy = false;
	/* returns through uc_link to the scheduler */
}

static void resume(struct fleet *F, struct fdaemon *d)
{
	F->cur = d;
	swapcontext(&F->sched, &d->uc);
	F->cur = NULL;
	if (d->busy || d->job != JOB_PROVISION)
		return;
	if (d->job_r == 0) {
		d->F->r->provisions++;
		d->backoff_state = 0;
	} else {
		d->F->r->failures++;
		d->next_provision = F->now + dms_provision_backoff_s(d->job_r, &d->backoff_state);
	}
}

static int start_job(struct fleet *F, struct fdaemon *d, int job, uint64_t size)
{
	if (!d->stack) {
		d->stack = malloc(STACK_SIZE);
		if (!d->stack)
			return -ENOMEM;
		d->vg_stack = VALGRIND_STACK_REGISTER(d->stack, (char *)d->stack + STACK_SIZE);
	}
	getcontext(&d->uc);
	d->uc.uc_stack.ss_sp = d->stack;
	d->uc.uc_stack.ss_size = STACK_SIZE;
	d->uc.uc_link = &F->sched;
	makecontext(&d->uc, co_main, 0);
	d->busy = true;
	d->job = job;
	d->job_size = size;
	d->job_r = 0;
	resume(F, d);
	return 0;
}

static int record_tts(struct fleet *F, double v)
{
	if (F->n_tts == F->cap_tts) {
		size_t nc = F->cap_tts ? F->cap_tts * 2 : 1024;
		double *n = realloc(F->tts, nc * sizeof(*n));
		if (!n)
			return -ENOMEM;
		F->tts = n;
		F->cap_tts = nc;
	}
	F->tts[F->n_tts++] = v;
	return 0;
}

/* One second of one instance: capacity arrivals, ENOSPC, and (when its
 * daemon is not inside a provisioning) the daemon's tick. */
static int tick(struct fleet *F, struct fdaemon *d)
{
	double now = F->now, tt = now - d->t0;
	if (d->pending && now >= d->t_grown) {
		d->cap += (double)d->pending_gib * G;
		d->pending = false;
		d->observed = true;
		struct sim_volume *v = ec2sim_volume(&F->sim, d->pending_vol);
		if (v)
			v->member = true;
		F->r->gib_provisioned += (double)d->pending_gib;
		if (record_tts(F, d->t_grown - d->t_need_of_job) < 0)
			return -ENOMEM;
	}
	double want = trace_used_at(d->tr, tt);
	bool short_now = want > d->cap;
	if (short_now && !d->short_now)
		F->r->enospc_events++;
	d->short_now = short_now;
	if (tt > d->tr->end_s && !d->finished) {
		d->finished = true;
		d->ratio_end = d->cap / fmax(want, 1.0);
	}
	if (d->finished) {
		if (!d->busy && d->n_retry && now >= d->next_retry) {   /* daemon_retry_deletes */
			int r = start_job(F, d, JOB_CLEANUP, 0);
			if (r < 0)
				return r;
		}
		if (d->busy || d->pending || d->n_retry)
			return push(F, now + 1, d->idx, EV_TICK);
		return 0;   /* done: no more ticks */
	}
	if (!d->busy && d->n_retry && now >= d->next_retry) {   /* daemon_retry_deletes, first in a tick */
		int r = start_job(F, d, JOB_CLEANUP, 0);
		if (r < 0)
			return r;
	}
	if (!d->busy) {
		double used = fmin(want, d->cap);
		fill_rate_update(&d->fr, tt, (uint64_t)used);
		if (d->observed) {   /* the pending list no longer names it: appended */
			double lat = now - d->t_prov_start;
			d->att_lat = d->att_lat > 0 ? 0.5 * d->att_lat + 0.5 * lat : lat;
			d->members++;
			d->observed = false;
		}
		struct policy_input in = {
			.total_bytes = (bytes_t)d->cap, .free_bytes = (bytes_t)(d->cap - used),
			.fill_rate_bps = fill_rate_bps(&d->fr), .attach_latency_s = d->att_lat,
			.n_volumes = d->members, .pool_gib = (uint64_t)ceil(d->cap / G),
			.attachments_in_use = d->members + (d->pending ? 1 : 0), .in_flight = d->pending ? 1 : 0,
		};
		struct policy_decision dec;
		if (policy_decide(&F->lim, &in, &dec) < 0)
			return -EINVAL;
		if (dec.needed && !d->needed)
			d->t_needed = now;
		d->needed = dec.needed;
		struct dms_provision_gate_input g = {.ec2_ready = true, .now_s = now, .next_provision_s = d->next_provision};
		if (dec.provision && dms_provision_gate(&g) == DMS_GATE_GO) {
			d->t_prov_start = now;
			d->t_need_of_job = d->t_needed;
			int r = start_job(F, d, JOB_PROVISION, dec.size_gib);
			if (r < 0)
				return r;
		}
	}
	return push(F, now + 1, d->idx, EV_TICK);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)ceil(p * (double)n) - 1;
	return v[i < n ? i : n - 1];
}

static void quiet(int level, const char *line, void *ud)
{
	(void)level;
	(void)line;
	(void)ud;
}

int fleet_run(const struct fleet_opts *o, struct fleet_result *r)
{
	if (!o || !r || !o->cfg || !o->n_traces || !o->instances)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	struct fleet F;
	memset(&F, 0, sizeof(F));
	F.o = o;
	F.r = r;
	F.rtt = o->rtt_s > 0 ? o->rtt_s : 0.05;
	policy_limits_from_config(o->cfg, &F.lim);
	ec2sim_init(&F.sim, o->seed ^ 0x5eed, o->lost_create);
	F.d = calloc(o->instances, sizeof(*F.d));
	if (!F.d)
		return -ENOMEM;
	g_fleet = &F;
	log_set_sink(quiet, NULL);   /* thousands of clients' logs; the figures are the output */
	struct sim_rng rng = {o->seed};
	static struct aws_credentials creds = {.access_key_id = "AKIDSIMULATED", .secret_access_key = "simulated"};
	int rc = 0;
	for (unsigned i = 0; i < o->instances && !rc; i++) {
		struct fdaemon *d = &F.d[i];
		d->F = &F;
		d->idx = i;
		d->tr = &o->traces[i % o->n_traces];
		d->t0 = sim_rng_uniform(&rng) * o->start_spread_s;
		snprintf(d->iid, sizeof(d->iid), "i-%017x", i + 1);
		d->rng.s = o->seed * 1000003u + i;
		d->cap = 100 * G;   /* the launch template's first volume */
		d->members = 1;
		fill_rate_init(&d->fr, fmax(5.0, 5.0 * o->cfg->poll_interval_ms / 1000.0));
		struct ec2_client_params p = {
			.region = "us-east-1", .endpoint = "https://ec2.us-east-1.amazonaws.com", .instance_id = d->iid,
			.availability_zone = "us-east-1a", .static_creds = &creds, .rng_seed = d->rng.s | 1,
		};
		struct ec2_transport t = {t_send, d};
		struct ec2_clock k = {k_mono, k_wall, k_sleep, d};
		if ((rc = ec2_client_setup(&d->c, &p, &t, &k)) < 0)
			break;
		d->c.on_stage = on_stage;
		d->c.stage_ud = d;
		if (o->fixed_backoff) {   /* bin/create-ebs-volume: sleep 2^i (+ 0..2 s) for i = 0..10 */
			d->c.backoff_fixed = true;
			d->c.backoff_base_ms = 1000;
			d->c.backoff_cap_ms = 1024000;
			d->c.max_attempts = 11;
		}
		rc = push(&F, d->t0, i, EV_TICK);
	}
	while (!rc && F.n_heap) {
		struct event e = pop(&F);
		F.now = e.t;
		struct fdaemon *d = &F.d[e.idx];
		if (e.kind == EV_WAKE)
			resume(&F, d);
		else
			rc = tick(&F, d);
	}
	log_set_sink(NULL, NULL);
	r->instances = o->instances;
	r->sim_end_s = F.now;
	for (int a = 0; a < SIM_N_API && a < 8; a++) {
		r->calls_by_api[a] = F.sim.calls[a];
		r->throttled_by_api[a] = F.sim.throttled[a];
		r->api_calls += F.sim.calls[a];
		r->throttled += F.sim.throttled[a];
	}
	r->lost_answers = F.sim.lost;
	r->throttled_fraction = r->api_calls ? (double)r->throttled / (double)r->api_calls : 0;
	r->api_calls_per_gib = r->gib_provisioned > 0 ? (double)r->api_calls / r->gib_provisioned : 0;
	for (size_t i = 0; i < F.sim.n_vols; i++)
		if (!F.sim.vols[i].deleted && !F.sim.vols[i].member)
			r->leaked_volumes++;
	qsort(F.tts, F.n_tts, sizeof(double), cmp_double);
	r->tts_p50_s = pct(F.tts, F.n_tts, 0.50);
	r->tts_p99_s = pct(F.tts, F.n_tts, 0.99);
	r->tts_max_s = F.n_tts ? F.tts[F.n_tts - 1] : 0;
	double rs = 0;
	for (unsigned i = 0; i < o->instances; i++) {
		rs += F.d[i].ratio_end;
		ec2_client_free(&F.d[i].c);
		if (F.d[i].stack) {
			VALGRIND_STACK_DEREGISTER(F.d[i].vg_stack);
			free(F.d[i].stack);
		}
	}
	r->ratio_end_mean = rs / o->instances;
	free(F.d);
	free(F.heap);
	free(F.tts);
	ec2sim_free(&F.sim);
	g_fleet = NULL;
	return rc;
}

int fleet_result_json(const struct fleet_result *r, const char *label, char *buf, size_t len)
{
	char by[1024] = "";
	size_t off = 0;
	for (int a = 0; a < SIM_N_API && a < 8; a++)
		if (r->calls_by_api[a])
			off += (size_t)snprintf(by + off, sizeof(by) - off, "%s\"%s\":[%lu,%lu]", off ? "," : "",
						sim_api_name((enum sim_api)a), r->calls_by_api[a], r->throttled_by_api[a]);
	int k = snprintf(buf, len,
			 "{\"backoff\":\"%s\",\"instances\":%u,\"api_calls\":%lu,\"throttled\":%lu,\"throttled_fraction\":%.4f,"
			 "\"lost_answers\":%lu,\"provisions\":%u,\"failed_provisions\":%u,\"enospc\":%u,\"leaked_volumes\":%u,"
			 "\"gib_provisioned\":%.0f,\"api_calls_per_gib\":%.4f,\"p50_time_to_space_s\":%.1f,"
			 "\"p99_time_to_space_s\":%.1f,\"max_time_to_space_s\":%.1f,\"sim_end_s\":%.0f,"
			 "\"provisioned_over_used_end_mean\":%.3f,\"calls_throttled_by_action\":{%s}}",
			 label, r->instances, r->api_calls, r->throttled, r->throttled_fraction, r->lost_answers,
			 r->provisions, r->failures, r->enospc_events, r->leaked_volumes, r->gib_provisioned,
			 r->api_calls_per_gib, r->tts_p50_s, r->tts_p99_s, r->tts_max_s, r->sim_end_s, r->ratio_end_mean, by);
	return k < 0 || (size_t)k >= len ? -ENOSPC : 0;
}
