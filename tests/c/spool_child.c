/*
 * A player process with an offline spool, driven by tests/spool.rs.
 *
 *   spool_child emit  URL DIR N M   emit N events, flush (they are then on
 *                                   disk or delivered), print "flushed",
 *                                   emit M more, print "waiting", then block
 *                                   until killed (SIGKILL in the test)
 *   spool_child drain URL DIR       open an emitter on DIR and wait until no
 *                                   batch file is left in it (20 s at most);
 *                                   print "resent R"
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kino.h"

static int die(const char *what, KinoStatus status) {
    fprintf(stderr, "spool_child: %s: %s: %s\n", what, kino_status_str(status),
            kino_last_error_message());
    return 2;
}

/* Number of finished batch files (*.kino) in dir. */
static int batch_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL) {
        return 0;
    }
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".kino") == 0 && e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: spool_child emit|drain URL DIR [N M]\n");
        return 2;
    }
    KinoConfig *cfg = kino_config_new();
    KinoStatus s;
    if ((s = kino_config_set_beacon_url(cfg, argv[2])) != KINO_STATUS_OK) return die("url", s);
    if ((s = kino_config_set_spool_dir(cfg, argv[3])) != KINO_STATUS_OK) return die("spool", s);
    kino_config_set_batch_size(cfg, 10);
    kino_config_set_flush_interval_ms(cfg, 100);
    kino_config_set_retry_backoff_ms(cfg, 20, 200);
    kino_config_set_request_timeout_ms(cfg, 1000);
    KinoEmitter *e = NULL;
    if ((s = kino_emitter_new(cfg, &e)) != KINO_STATUS_OK) return die("emitter_new", s);
    kino_config_free(cfg);

    if (strcmp(argv[1], "emit") == 0 && argc == 6) {
        long n = atol(argv[4]), m = atol(argv[5]);
        for (long i = 0; i < n; i++) {
            if ((s = kino_emit_heartbeat(e, (double)i, 1.0, 1000000, 0, (uint64_t)i)) != KINO_STATUS_OK)
                return die("emit", s);
        }
        if ((s = kino_emitter_flush(e, 20000)) != KINO_STATUS_OK) return die("flush", s);
        printf("flushed\n");
        for (long i = 0; i < m; i++) {
            kino_emit_heartbeat(e, (double)(n + i), 1.0, 1000000, 0, (uint64_t)(n + i));
        }
        printf("waiting\n");
        fflush(stdout);
        for (;;) {
            pause_ms(1000); /* until the test kills us */
        }
    }
    if (strcmp(argv[1], "drain") == 0) {
        for (int i = 0; i < 400 && batch_files(argv[3]) > 0; i++) {
            pause_ms(50);
        }
        KinoStats st;
        kino_emitter_stats(e, &st);
        printf("resent %llu left %d\n", (unsigned long long)st.resent, batch_files(argv[3]));
        kino_emitter_free(e);
        return 0;
    }
    fprintf(stderr, "spool_child: bad arguments\n");
    return 2;
}
