/*
 * Latency of kino_emit_play / kino_emit_heartbeat called from C through
 * libkino.so: p50/p99/p99.9 per call, tight (back-to-back) and paced (one
 * call per interval, sleeping in between, as a player's playback thread
 * does), from one thread and from two threads at once.
 *
 *   cc -O2 -std=c99 -Iinclude examples-c/bench.c -Ltarget/release -lkino \
 *      -Wl,-rpath,$PWD/target/release -lpthread -lm -o examples-c/build/bench
 *   ./examples-c/build/bench [--dest none|hang|URL] [--tight-calls N]
 *       [--paced-calls N] [--interval-us N] [--mode all|tight|paced]
 *       [--threads all|1|2] [--markers]
 *
 * --dest none (default) sends nowhere; --dest hang points kino at a local
 * socket that accepts connections and never answers; a URL is a real
 * collector (scripts/bench.sh starts one).
 *
 * Each call is timed with clock_gettime(CLOCK_MONOTONIC); the cost of an
 * empty timed pair is measured and subtracted (column "timer"). Only calls
 * that returned KINO_STATUS_OK are in the percentiles; QUEUE_FULL is
 * counted as a drop.
 *
 * --markers writes "kino-bench: begin" / "kino-bench: end" to stderr from
 * each measuring thread around its measured calls, so that a system-call
 * trace (strace -f) can be cut to exactly those calls: see
 * scripts/bench.sh and docs/PERFORMANCE.md.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kino.h"

#define WARM_UP_CALLS 2000u

enum mode { TIGHT, PACED };
enum event { PLAY, HEARTBEAT };

static const char *mode_name[] = {"tight", "paced"};
static const char *event_name[] = {"play", "heartbeat"};

static int markers = 0;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until_ns(uint64_t deadline) {
    struct timespec ts;
    ts.tv_sec = (time_t)(deadline / 1000000000u);
    ts.tv_nsec = (long)(deadline % 1000000000u);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t median_u32(uint32_t *v, size_t n) {
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof *v, cmp_u32);
    return v[n / 2];
}

/* Nearest-rank percentile of sorted samples. */
static uint32_t percentile(const uint32_t *sorted, size_t n, double q) {
    size_t rank;
    if (n == 0) {
        return 0;
    }
    rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return sorted[rank - 1];
}

static KinoStatus call(KinoEmitter *e, enum event ev, uint64_t i) {
    double position = (double)i * 0.25;
    if (ev == PLAY) {
        return kino_emit_play(e, position);
    }
    return kino_emit_heartbeat(e, position, 12.5, 4500000u, i & 7u, i);
}

static void marker(const char *text) {
    if (markers) {
        ssize_t ignored = write(2, text, strlen(text));
        (void)ignored;
    }
}

struct job {
    KinoEmitter *emitter;
    enum mode mode;
    enum event event;
    size_t calls;
    uint64_t interval_ns;
    pthread_barrier_t *ready;
    pthread_barrier_t *go;
    /* results */
    uint32_t *samples;
    uint32_t *timer;
    size_t accepted;
    uint64_t drops;
    uint64_t errors;
    uint64_t elapsed_ns;
};

static void *measure(void *arg) {
    struct job *j = arg;
    uint64_t i, start;
    for (i = 0; i < WARM_UP_CALLS; i++) {
        if (call(j->emitter, j->event, i) != KINO_STATUS_OK) {
            fprintf(stderr, "bench: warm-up call failed: %s\n", kino_last_error_message());
            exit(1);
        }
    }
    pthread_barrier_wait(j->ready);
    pthread_barrier_wait(j->go);
    marker("kino-bench: begin\n");
    start = now_ns();
    for (i = 0; i < j->calls; i++) {
        uint64_t t0, t1;
        KinoStatus status;
        if (j->mode == PACED) {
            uint64_t a, b;
            sleep_until_ns(start + (i + 1) * j->interval_ns);
            /* An empty timed pair right after waking: the timer's cost in
             * this state, and it leaves the timer code warm. */
            a = now_ns();
            b = now_ns();
            j->timer[i] = (uint32_t)(b - a);
        }
        t0 = now_ns();
        status = call(j->emitter, j->event, i);
        t1 = now_ns();
        if (status == KINO_STATUS_OK) {
            j->samples[j->accepted++] = (uint32_t)(t1 - t0);
        } else if (status == KINO_STATUS_QUEUE_FULL) {
            j->drops++;
        } else {
            j->errors++;
        }
    }
    j->elapsed_ns = now_ns() - start;
    marker("kino-bench: end\n");
    return NULL;
}

static void check(KinoStatus status, const char *what) {
    if (status != KINO_STATUS_OK) {
        fprintf(stderr, "bench: %s failed: %s: %s\n", what, kino_status_str(status),
                kino_last_error_message());
        exit(1);
    }
}

/* A local TCP listener that never accepts: connections complete in the
 * kernel's backlog, requests are written, and no answer ever comes. */
static int hanging_listener(char *url, size_t len) {
    struct sockaddr_in addr;
    socklen_t addr_len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("bench: socket");
        exit(1);
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
        perror("bench: bind/listen");
        exit(1);
    }
    snprintf(url, len, "http://127.0.0.1:%u/beacon", (unsigned)ntohs(addr.sin_port));
    return fd;
}

static uint32_t tight_timer_ns(void) {
    enum { N = 200000 };
    static uint32_t v[N];
    size_t i;
    for (i = 0; i < N; i++) {
        uint64_t a = now_ns();
        uint64_t b = now_ns();
        v[i] = (uint32_t)(b - a);
    }
    return median_u32(v, N);
}

static void run(const char *dest_name, const char *url, enum mode mode, enum event ev,
                unsigned threads, size_t calls, uint64_t interval_ns, uint32_t tight_timer) {
    KinoConfig *config = kino_config_new();
    KinoEmitter *emitter = NULL;
    struct job jobs[2];
    pthread_t tids[2];
    pthread_barrier_t ready, go;
    uint32_t *all, *timers, timer;
    size_t n = 0, nt = 0, t, k;
    uint64_t drops = 0, errors = 0, elapsed = 0;
    uint64_t total = (uint64_t)threads * (calls + WARM_UP_CALLS);
    uint64_t capacity = total * 2 + 65536;
    if (capacity > KINO_MAX_QUEUE_CAPACITY) {
        capacity = KINO_MAX_QUEUE_CAPACITY;
    }
    if (config == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    check(kino_config_set_beacon_url(config, url), "kino_config_set_beacon_url");
    check(kino_config_set_queue_capacity(config, (uint32_t)capacity),
          "kino_config_set_queue_capacity");
    check(kino_config_set_shutdown_timeout_ms(config, 50), "kino_config_set_shutdown_timeout_ms");
    check(kino_emitter_new(config, &emitter), "kino_emitter_new");
    kino_config_free(config);

    pthread_barrier_init(&ready, NULL, threads + 1);
    pthread_barrier_init(&go, NULL, threads + 1);
    for (t = 0; t < threads; t++) {
        struct job *j = &jobs[t];
        memset(j, 0, sizeof *j);
        j->emitter = emitter;
        j->mode = mode;
        j->event = ev;
        j->calls = calls;
        j->interval_ns = interval_ns;
        j->ready = &ready;
        j->go = &go;
        j->samples = calloc(calls ? calls : 1, sizeof(uint32_t));
        j->timer = calloc(calls ? calls : 1, sizeof(uint32_t));
        if (j->samples == NULL || j->timer == NULL) {
            fprintf(stderr, "bench: out of memory\n");
            exit(1);
        }
        if (pthread_create(&tids[t], NULL, measure, j) != 0) {
            fprintf(stderr, "bench: pthread_create failed\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&ready);
    /* Let the worker settle: drain the warm-up, or have its first request
     * on the wire (answered, or hanging). */
    if (url == NULL) {
        check(kino_emitter_flush(emitter, 5000), "kino_emitter_flush");
    } else {
        sleep_until_ns(now_ns() + 300000000u);
    }
    pthread_barrier_wait(&go);
    for (t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
    }
    kino_emitter_free(emitter);
    pthread_barrier_destroy(&ready);
    pthread_barrier_destroy(&go);

    all = calloc((size_t)threads * (calls ? calls : 1), sizeof(uint32_t));
    timers = calloc((size_t)threads * (calls ? calls : 1), sizeof(uint32_t));
    if (all == NULL || timers == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (t = 0; t < threads; t++) {
        memcpy(all + n, jobs[t].samples, jobs[t].accepted * sizeof(uint32_t));
        n += jobs[t].accepted;
        if (mode == PACED) {
            memcpy(timers + nt, jobs[t].timer, calls * sizeof(uint32_t));
            nt += calls;
        }
        drops += jobs[t].drops;
        errors += jobs[t].errors;
        if (jobs[t].elapsed_ns > elapsed) {
            elapsed = jobs[t].elapsed_ns;
        }
        free(jobs[t].samples);
        free(jobs[t].timer);
    }
    timer = mode == PACED ? median_u32(timers, nt) : tight_timer;
    for (k = 0; k < n; k++) {
        all[k] = all[k] > timer ? all[k] - timer : 0;
    }
    qsort(all, n, sizeof *all, cmp_u32);
    printf("%-6s %-9s %3u %-5s %8zu %6llu %5u %6u %6u %7u %8u %9.0f%s\n", mode_name[mode],
           event_name[ev], threads, dest_name, n, (unsigned long long)drops, timer,
           percentile(all, n, 0.50), percentile(all, n, 0.99), percentile(all, n, 0.999),
           n ? all[n - 1] : 0, elapsed ? (double)((uint64_t)threads * calls) * 1e9 / (double)elapsed : 0.0,
           errors ? "  (errors!)" : "");
    fflush(stdout);
    free(all);
    free(timers);
}

static unsigned long long number(const char *flag, const char *value) {
    char *end = NULL;
    unsigned long long v;
    if (value == NULL) {
        fprintf(stderr, "bench: %s needs a value\n", flag);
        exit(2);
    }
    v = strtoull(value, &end, 10);
    if (end == value || *end != '\0') {
        fprintf(stderr, "bench: %s wants a number, got '%s'\n", flag, value);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    const char *dest = "none";
    const char *modes = "all";
    const char *thread_list = "all";
    size_t tight_calls = 200000, paced_calls = 10000;
    uint64_t interval_us = 200;
    char hang_url[64];
    const char *url = NULL;
    const char *dest_name = "none";
    int listener = -1, i;
    uint32_t tight_timer;
    unsigned m, e, t;

    for (i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--dest") == 0 && next) {
            dest = argv[++i];
        } else if (strcmp(argv[i], "--tight-calls") == 0) {
            tight_calls = (size_t)number(argv[i], next);
            i++;
        } else if (strcmp(argv[i], "--paced-calls") == 0) {
            paced_calls = (size_t)number(argv[i], next);
            i++;
        } else if (strcmp(argv[i], "--interval-us") == 0) {
            interval_us = number(argv[i], next);
            i++;
        } else if (strcmp(argv[i], "--mode") == 0 && next) {
            modes = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && next) {
            thread_list = argv[++i];
        } else if (strcmp(argv[i], "--markers") == 0) {
            markers = 1;
        } else {
            fprintf(stderr,
                    "usage: %s [--dest none|hang|URL] [--tight-calls N] [--paced-calls N]\n"
                    "          [--interval-us N] [--mode all|tight|paced] [--threads all|1|2] "
                    "[--markers]\n",
                    argv[0]);
            return 2;
        }
    }
    if (strcmp(dest, "hang") == 0) {
        listener = hanging_listener(hang_url, sizeof hang_url);
        url = hang_url;
        dest_name = "hang";
    } else if (strcmp(dest, "none") != 0) {
        url = dest;
        dest_name = "url";
    }

    tight_timer = tight_timer_ns();
    printf("kino C bench (libkino %s), dest %s%s%s\n", kino_version(), dest_name,
           url ? " " : "", url ? url : "");
    printf("  timer: clock_gettime pair %u ns median (subtracted); tight %zu calls/thread; "
           "paced %zu calls/thread every %llu us\n",
           tight_timer, tight_calls, paced_calls, (unsigned long long)interval_us);
    printf("%-6s %-9s %3s %-5s %8s %6s %5s %6s %6s %7s %8s %9s\n", "mode", "event", "thr", "dest",
           "calls", "drops", "timer", "p50", "p99", "p99.9", "max", "calls/s");
    for (m = TIGHT; m <= PACED; m++) {
        if (strcmp(modes, "all") != 0 && strcmp(modes, mode_name[m]) != 0) {
            continue;
        }
        for (e = PLAY; e <= HEARTBEAT; e++) {
            for (t = 1; t <= 2; t++) {
                if (strcmp(thread_list, "all") != 0 && (unsigned)atoi(thread_list) != t) {
                    continue;
                }
                run(dest_name, url, (enum mode)m, (enum event)e, t,
                    m == TIGHT ? tight_calls : paced_calls, interval_us * 1000u, tight_timer);
            }
        }
    }
    if (listener >= 0) {
        close(listener);
    }
    return 0;
}
