/*
 * craft_bench: one node of a 3-node canonical/raft (libraft, Debian's
 * libraft-dev 0.15) cluster with the durable libuv I/O backend, used as a peer
 * figure for skiff's benchmarks (issue 9). scripts/bench-peers starts three of
 * these as separate processes on loopback, each with its own data directory.
 *
 * Every node bootstraps the same 3-voter configuration and runs with the
 * library's defaults (election 1000 ms, heartbeat 100 ms, snapshot threshold
 * 1024 unless --snapshot-threshold says otherwise, trailing 128; the uv
 * backend writes its segments durably). Node 1 is
 * the driver: if another node wins the election it hands leadership to node 1
 * with raft_transfer. Once node 1 leads and a barrier has committed, it keeps
 * `concurrency` raft_apply requests of `size` bytes in flight (closed loop: each
 * apply callback submits the next entry), and records the time from raft_apply
 * to its apply callback, which fires after the entry is committed (stored on a
 * majority) and applied to the trivial FSM on the leader. After a warm-up that
 * is not counted, every entry completing inside the measured window is counted;
 * node 1 then prints one CSV line on stdout:
 *   system,config,nodes,concurrency,size,ops,seconds,ops_per_s,p50_us,p90_us,
 *   p99_us,p999_us,max_us
 * Progress goes to stderr once a second. Followers run until SIGTERM/SIGINT
 * or --lifetime seconds, so none outlives a killed script.
 *
 * Usage: craft_bench --id N --dir DIR --peers A1,A2,A3
 *          [--concurrency C] [--size B] [--seconds S] [--warmup S]
 *          [--lifetime S] [--snapshot-threshold N] [--config TEXT]
 *
 * --snapshot-threshold: entries between snapshots; 0 (default) keeps the
 * library's 1024. The uv backend's durability is never changed: segments are
 * opened O_DSYNC and written with kernel AIO (seen with strace).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define N_NODES 3
#define TICK_MS 10

enum phase { WAIT_LEADER, WAIT_BARRIER, WARMUP, MEASURE, DRAIN, DONE };

struct slot
{
    struct raft_apply req; /* first: the callback's pointer is the slot's */
    uint64_t start_ns;
};

struct opts
{
    unsigned id;
    const char *dir;
    char *addrs[N_NODES];
    unsigned concurrency;
    size_t size;
    double seconds;
    double warmup;
    double lifetime;
    unsigned snapshot_threshold; /* 0: the library's default (1024) */
    const char *config;
};

static struct opts o = {
    .concurrency = 1,
    .size = 100,
    .seconds = 10.0,
    .warmup = 2.0,
    .lifetime = 120.0,
    .config = "0.15 uv durable",
};

static uv_loop_t loop;
static struct raft_uv_transport transport;
static struct raft_io io;
static struct raft_fsm fsm;
static struct raft raft;
static uv_timer_t tick_timer;
static uv_signal_t sigterm, sigint;
static struct raft_barrier barrier_req;
static struct raft_transfer transfer_req;
static bool transferring;
static bool closing;
static int exit_code;

/* Driver state. */
static enum phase phase = WAIT_LEADER;
static struct slot *slots;
static unsigned in_flight;
static uint64_t t_begin, t_measure, t_end, t_drain_deadline, t_last_progress;
static uint64_t submitted, completed_total, last_completed, errors;
static uint32_t *lat;       /* µs of each entry completed in the window */
static size_t n_lat, cap_lat;
static uint64_t fsm_applied; /* the trivial FSM: a counter */

static void die(const char *what, int rv)
{
    fprintf(stderr, "craft_bench[%u]: %s: %s (%s)\n", o.id, what,
            raft_strerror(rv), raft.errmsg);
    exit(1);
}

static double secs_since(uint64_t t0) { return (double)(uv_hrtime() - t0) / 1e9; }

/* ---- trivial FSM ------------------------------------------------------ */

static int fsm_apply(struct raft_fsm *f, const struct raft_buffer *buf, void **result)
{
    (void)f;
    (void)buf;
    fsm_applied++;
    *result = NULL;
    return 0;
}

static int fsm_snapshot(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    (void)f;
    /* Version 1 FSM: raft takes ownership of both allocations. */
    *bufs = raft_malloc(sizeof **bufs);
    if (*bufs == NULL) return RAFT_NOMEM;
    (*bufs)[0].len = sizeof fsm_applied;
    (*bufs)[0].base = raft_malloc(sizeof fsm_applied);
    if ((*bufs)[0].base == NULL) {
        raft_free(*bufs);
        return RAFT_NOMEM;
    }
    memcpy((*bufs)[0].base, &fsm_applied, sizeof fsm_applied);
    *n_bufs = 1;
    return 0;
}

static int fsm_restore(struct raft_fsm *f, struct raft_buffer *buf)
{
    (void)f;
    if (buf->len == sizeof fsm_applied) memcpy(&fsm_applied, buf->base, sizeof fsm_applied);
    raft_free(buf->base);
    return 0;
}

/* ---- shutdown --------------------------------------------------------- */

static void raft_closed(struct raft *r)
{
    (void)r;
    raft_uv_close(&io);
    raft_uv_tcp_close(&transport);
    uv_close((uv_handle_t *)&tick_timer, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
}

static void shutdown_node(int code)
{
    if (closing) return;
    closing = true;
    exit_code = code;
    uv_timer_stop(&tick_timer);
    raft_close(&raft, raft_closed);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    shutdown_node(exit_code);
}

/* ---- load ------------------------------------------------------------- */

static void submit(struct slot *s);

static void record(uint32_t us)
{
    if (n_lat == cap_lat) {
        cap_lat = cap_lat ? cap_lat * 2 : 1 << 16;
        lat = realloc(lat, cap_lat * sizeof *lat);
        if (lat == NULL) {
            fprintf(stderr, "craft_bench: out of memory\n");
            exit(1);
        }
    }
    lat[n_lat++] = us;
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct slot *s = (struct slot *)req;
    uint64_t now = uv_hrtime();
    (void)result;
    in_flight--;
    if (status != 0) {
        errors++;
        if (errors <= 5)
            fprintf(stderr, "craft_bench: apply failed: %s\n", raft_strerror(status));
    } else {
        completed_total++;
        if (now >= t_measure && now < t_end) {
            uint64_t us = (now - s->start_ns + 500) / 1000;
            record(us > UINT32_MAX ? UINT32_MAX : (uint32_t)us);
        }
    }
    if ((phase == WARMUP || phase == MEASURE) && status == 0) submit(s);
}

static void submit(struct slot *s)
{
    struct raft_buffer buf;
    int rv;
    buf.len = o.size;
    buf.base = raft_malloc(o.size);
    if (buf.base == NULL) die("raft_malloc", RAFT_NOMEM);
    memset(buf.base, 'v', o.size);
    memcpy(buf.base, &submitted, sizeof submitted < o.size ? sizeof submitted : o.size);
    s->start_ns = uv_hrtime();
    rv = raft_apply(&raft, &s->req, &buf, 1, apply_cb);
    if (rv != 0) {
        raft_free(buf.base);
        errors++;
        fprintf(stderr, "craft_bench: raft_apply: %s\n", raft_strerror(rv));
        return;
    }
    submitted++;
    in_flight++;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted latencies. */
static uint32_t pct(double p)
{
    size_t rank;
    if (n_lat == 0) return 0;
    rank = (size_t)(p / 100.0 * (double)n_lat + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n_lat) rank = n_lat;
    return lat[rank - 1];
}

static void report(void)
{
    qsort(lat, n_lat, sizeof *lat, cmp_u32);
    printf("canonical-raft,%s,%d,%u,%zu,%zu,%.1f,%.0f,%" PRIu32 ",%" PRIu32 ",%" PRIu32
           ",%" PRIu32 ",%" PRIu32 "\n",
           o.config, N_NODES, o.concurrency, o.size, n_lat, o.seconds,
           (double)n_lat / o.seconds, pct(50), pct(90), pct(99), pct(99.9),
           n_lat ? lat[n_lat - 1] : 0);
    fflush(stdout);
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    (void)req;
    if (status != 0) {
        fprintf(stderr, "craft_bench: barrier failed: %s; retrying\n", raft_strerror(status));
        phase = WAIT_LEADER;
        return;
    }
    fprintf(stderr, "craft_bench: node 1 leads after %.1f s; warm-up %.1f s, %u in flight\n",
            secs_since(t_begin), o.warmup, o.concurrency);
    phase = WARMUP;
    t_measure = uv_hrtime() + (uint64_t)(o.warmup * 1e9);
    t_end = t_measure + (uint64_t)(o.seconds * 1e9);
    t_last_progress = uv_hrtime();
    for (unsigned i = 0; i < o.concurrency; i++) submit(&slots[i]);
}

static void transfer_cb(struct raft_transfer *req)
{
    (void)req;
    transferring = false;
}

static void tick(uv_timer_t *t)
{
    uint64_t now = uv_hrtime();
    (void)t;
    if (secs_since(t_begin) > o.lifetime) {
        fprintf(stderr, "craft_bench[%u]: lifetime of %.0f s reached; exiting\n", o.id,
                o.lifetime);
        shutdown_node(o.id == 1 && phase != DONE ? 1 : exit_code);
        return;
    }
    /* Any node other than 1 that leads hands leadership to node 1. */
    if (o.id != 1) {
        if (raft_state(&raft) == RAFT_LEADER && !transferring) {
            if (raft_transfer(&raft, &transfer_req, 1, transfer_cb) == 0) transferring = true;
        }
        return;
    }
    switch (phase) {
    case WAIT_LEADER:
        if (raft_state(&raft) == RAFT_LEADER) {
            int rv = raft_barrier(&raft, &barrier_req, barrier_cb);
            if (rv != 0) die("raft_barrier", rv);
            phase = WAIT_BARRIER;
        } else if (secs_since(t_begin) > 30.0) {
            fprintf(stderr, "craft_bench: node 1 did not become leader within 30 s\n");
            shutdown_node(1);
        }
        break;
    case WAIT_BARRIER:
        break;
    case WARMUP:
    case MEASURE:
        if (now - t_last_progress >= 1000000000ull) {
            double dt = (double)(now - t_last_progress) / 1e9;
            fprintf(stderr, "  craft c=%-3u %-7s t=%4.1fs %8.0f ops/s in flight %u\n",
                    o.concurrency, phase == WARMUP ? "warm-up" : "measure",
                    phase == WARMUP ? 0.0 : (double)(now - t_measure) / 1e9,
                    (double)(completed_total - last_completed) / dt, in_flight);
            last_completed = completed_total;
            t_last_progress = now;
        }
        if (phase == WARMUP && now >= t_measure) phase = MEASURE;
        if (now >= t_end) {
            phase = DRAIN;
            t_drain_deadline = now + 10000000000ull;
        }
        break;
    case DRAIN:
        if (in_flight == 0 || now >= t_drain_deadline) {
            if (in_flight != 0)
                fprintf(stderr, "craft_bench: %u entries still in flight after 10 s\n",
                        in_flight);
            phase = DONE;
            report();
            if (errors != 0)
                fprintf(stderr, "craft_bench: %" PRIu64 " failed applies (leadership lost?)\n",
                        errors);
            shutdown_node(errors != 0 || in_flight != 0 ? 2 : 0);
        }
        break;
    case DONE:
        break;
    }
}

/* ---- setup ------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: craft_bench --id N --dir DIR --peers A1,A2,A3 [--concurrency C]\n"
            "         [--size B] [--seconds S] [--warmup S] [--lifetime S]\n"
            "         [--snapshot-threshold N] [--config TEXT]\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    char *peers = NULL;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) usage();
        i++;
        if (strcmp(k, "--id") == 0) o.id = (unsigned)atoi(v);
        else if (strcmp(k, "--dir") == 0) o.dir = v;
        else if (strcmp(k, "--peers") == 0) peers = strdup(v);
        else if (strcmp(k, "--concurrency") == 0) o.concurrency = (unsigned)atoi(v);
        else if (strcmp(k, "--size") == 0) o.size = (size_t)atol(v);
        else if (strcmp(k, "--seconds") == 0) o.seconds = atof(v);
        else if (strcmp(k, "--warmup") == 0) o.warmup = atof(v);
        else if (strcmp(k, "--lifetime") == 0) o.lifetime = atof(v);
        else if (strcmp(k, "--snapshot-threshold") == 0) o.snapshot_threshold = (unsigned)atoi(v);
        else if (strcmp(k, "--config") == 0) o.config = v;
        else usage();
    }
    if (o.id < 1 || o.id > N_NODES || o.dir == NULL || peers == NULL || o.concurrency < 1 ||
        o.size < 1 || o.seconds <= 0)
        usage();
    for (int n = 0; n < N_NODES; n++) {
        o.addrs[n] = strsep(&peers, ",");
        if (o.addrs[n] == NULL || *o.addrs[n] == '\0') usage();
    }
}

int main(int argc, char **argv)
{
    struct raft_configuration conf;
    int rv;

    parse(argc, argv);
    /* A peer closing its connection must not kill this node: libuv reports the
     * EPIPE to the transport instead. */
    signal(SIGPIPE, SIG_IGN);
    t_begin = uv_hrtime();
    slots = calloc(o.concurrency, sizeof *slots);
    if (slots == NULL) return 1;

    if (uv_loop_init(&loop) != 0) return 1;
    rv = raft_uv_tcp_init(&transport, &loop);
    if (rv != 0) die("raft_uv_tcp_init", rv);
    rv = raft_uv_init(&io, &loop, o.dir, &transport);
    if (rv != 0) {
        fprintf(stderr, "craft_bench: raft_uv_init: %s (%s)\n", raft_strerror(rv), io.errmsg);
        return 1;
    }
    fsm.version = 1;
    fsm.apply = fsm_apply;
    fsm.snapshot = fsm_snapshot;
    fsm.restore = fsm_restore;
    rv = raft_init(&raft, &io, &fsm, o.id, o.addrs[o.id - 1]);
    if (rv != 0) die("raft_init", rv);

    raft_configuration_init(&conf);
    for (unsigned n = 0; n < N_NODES; n++) {
        rv = raft_configuration_add(&conf, n + 1, o.addrs[n], RAFT_VOTER);
        if (rv != 0) die("raft_configuration_add", rv);
    }
    rv = raft_bootstrap(&raft, &conf);
    if (rv != 0) die("raft_bootstrap", rv);
    raft_configuration_close(&conf);
    if (o.snapshot_threshold != 0) raft_set_snapshot_threshold(&raft, o.snapshot_threshold);
    rv = raft_start(&raft);
    if (rv != 0) die("raft_start", rv);

    uv_timer_init(&loop, &tick_timer);
    uv_timer_start(&tick_timer, tick, TICK_MS, TICK_MS);
    uv_signal_init(&loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(&loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);

    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(slots);
    free(lat);
    return exit_code;
}
