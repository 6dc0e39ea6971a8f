/*
 * fanout-load: the fan-out load generator of bench/fanout/run and bench/fanout/ab, in C
 * so that it is not what limits the rate measured. It replaced FanoutBench (Swift on NIO
 * with the project's SIP library), which did the same exchanges for about 110 µs of CPU
 * per PUBLISH and saturated one core near 10 000 PUBLISH/s; this costs 15–30 µs.
 *
 *   fanout-load SERVER_PORT COUNT SECONDS RATE...
 *
 * One UDP socket on 127.0.0.1 subscribes COUNT subscribers (500 at a time, no digest:
 * the server trusts 127.0.0.1; the unanswered sent again every second) to extensions
 * 0000000 … COUNT-1, then for each RATE publishes at that rate for SECONDS, round-robin
 * over the mailboxes, each PUBLISH with new counts (round r of a mailbox carries
 * "Voice-Message: r/0", r going on from rate to rate and starting from a number taken
 * from the clock, so that no PUBLISH repeats the counts a server already has, from this
 * run or an earlier one: a server that rightly sends no NOTIFY for them would be
 * counted as losing them; SIP-If-Match with the entity tag of the mailbox's last 200), and
 * waits up to 5 s for the last answers and NOTIFYs. Every NOTIFY is answered 200. One line per rate:
 *   "rate R sent S in T s ok O notified N superseded U lost L p50_ms X p99_ms Y max_ms Z
 *    answer_p50_ms A answer_p99_ms B cpu_ms C"
 * notified: publications whose counts reached their subscriber (latency: PUBLISH sent →
 * that NOTIFY received); superseded: publications overtaken by a newer one to the same
 * mailbox whose NOTIFY came first; lost: the others; A, B: PUBLISH sent → its 200;
 * C: this process's CPU time (user + system) over the rate's run and drain.
 * At the end every subscription is ended (Expires: 0 in its dialog), then every
 * publication removed (PUBLISH, SIP-If-Match, Expires: 0), the unanswered sent again
 * every 2 s for up to 20 s each: "unsubscribed N of M", "unpublished N of M". So the
 * next run against the same server starts from the same state, not with this run's
 * subscribers and publications still there.
 *
 * Build: cc -O2 -o fanout-load fanout-load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define SIZE 65536
#include "sip-lite.h"

#define WINDOW 500

static int server_port, local_port, count;
static struct sockaddr_in server;
static uint64_t branch_seed;


/* Subscriptions: the server's tag of each dialog; what is in flight. */
static char (*to_tags)[64];
static unsigned char *unanswered, *leaving;
static int started, subscribed, failed, left, to_leave;
/* The end: publications being removed. */
static unsigned char *removing;
static int removed, to_remove;

static void subscribe(int i, int ending) {
    char *o = slot(&server);
    int n = snprintf(o, DATAGRAM,
                     "SUBSCRIBE sip:%07d@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKf%llx\r\n"
                     "Max-Forwards: 70\r\nFrom: <sip:%07d@127.0.0.1:%d>;tag=s%d\r\nTo: <sip:%07d@127.0.0.1:%d>%s%s\r\n"
                     "Call-ID: sub-%d@fanout\r\nCSeq: %d SUBSCRIBE\r\nContact: <sip:s%d@127.0.0.1:%d>\r\n"
                     "Event: message-summary\r\nAccept: application/simple-message-summary\r\nExpires: %d\r\n"
                     "Content-Length: 0\r\n\r\n",
                     i, server_port, local_port, (unsigned long long)++branch_seed, i, server_port, i, i, server_port,
                     ending ? ";tag=" : "", ending ? to_tags[i] : "", i, ending ? 2 : 1, i, local_port, ending ? 0 : 7200);
    if (n > 0 && n < DATAGRAM) queued((size_t)n);
}

/* Publishing: per mailbox its round and entity tag; per publication of the current rate
 * (index p = its round - base - 1, times COUNT, plus the mailbox) when it was sent and
 * what became of it. */
static uint32_t *rounds, *resolved_round, base;
static char (*etags)[64];
static uint64_t *sent_at;
static unsigned char *state; /* 0 in flight, 1 notified, 2 superseded */
static uint64_t *latencies, *answers;
static long sent, ok, refused, notified, superseded, n_lat, n_ans, capacity;
static uint32_t cseq;

/* A PUBLISH to mailbox i with Call-ID `call_id`, `expires` and `body` (none when empty),
 * matching the mailbox's entity tag when it has one. */
static void send_publish(int i, const char *call_id, int expires, const char *body) {
    char match[96] = "", type[64] = "";
    if (etags[i][0]) snprintf(match, sizeof match, "SIP-If-Match: %s\r\n", etags[i]);
    if (*body) snprintf(type, sizeof type, "Content-Type: application/simple-message-summary\r\n");
    char *o = slot(&server);
    int n = snprintf(o, DATAGRAM,
                     "PUBLISH sip:%07d@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKf%llx\r\n"
                     "Max-Forwards: 70\r\nFrom: <sip:voicemail@127.0.0.1>;tag=v%d\r\nTo: <sip:%07d@127.0.0.1:%d>\r\n"
                     "Call-ID: %s\r\nCSeq: %u PUBLISH\r\nEvent: message-summary\r\nExpires: %d\r\n"
                     "%s%sContent-Length: %zu\r\n\r\n%s",
                     i, server_port, local_port, (unsigned long long)++branch_seed, i, i, server_port, call_id, ++cseq, expires,
                     type, match, strlen(body), body);
    if (n > 0 && n < DATAGRAM) queued((size_t)n);
}

static void publish(void) {
    int i = (int)(sent % count);
    uint32_t r = ++rounds[i];
    long p = sent++;
    sent_at[p] = now_ns();
    state[p] = 0;
    char body[64], call_id[48];
    snprintf(body, sizeof body, "Messages-Waiting: yes\r\nVoice-Message: %u/0\r\n", r);
    snprintf(call_id, sizeof call_id, "pub-%d-%u@fanout", i, r);
    send_publish(i, call_id, 3600, body);
}

/* Removes mailbox i's publication: PUBLISH with its entity tag and Expires: 0. */
static void unpublish(int i) {
    char call_id[32];
    snprintf(call_id, sizeof call_id, "end-%d@fanout", i);
    send_publish(i, call_id, 0, "");
}

/* The number after `prefix` in the Call-ID, and what follows it. */
static long call_number(const char *v, size_t n, const char *prefix, const char **rest) {
    size_t k = strlen(prefix);
    if (n <= k || memcmp(v, prefix, k)) return -1;
    char *end;
    long x = strtol(v + k, &end, 10);
    *rest = end;
    return (end == v + k || x < 0 || x >= count) ? -1 : x;
}

static void notified_with(int i, uint32_t r, uint64_t at) {
    if (r <= base || r > rounds[i] || r <= resolved_round[i]) return;
    long p = (long)(r - base - 1) * count + i;
    if (p >= sent || state[p] != 0) return;
    state[p] = 1;
    notified++;
    if (n_lat < capacity) latencies[n_lat++] = at - sent_at[p];
    /* Older publications still waiting are superseded: the subscriber has newer counts. */
    for (uint32_t older = resolved_round[i] + 1; older < r; older++) {
        long q = (long)(older - base - 1) * count + i;
        if (q < sent && state[q] == 0) { state[q] = 2; superseded++; }
    }
    resolved_round[i] = r;
}

static void on_datagram(const char *in, size_t len, const struct sockaddr_in *from) {
    uint64_t at = now_ns();
    const char *v, *rest;
    size_t n;
    if (len > 8 && memcmp(in, "SIP/2.0 ", 8) != 0) { /* a request: a NOTIFY (or anything) gets its 200 */
        if (len > 7 && !memcmp(in, "NOTIFY ", 7) && (n = header_value(in, len, "Call-ID", 'i', &v))) {
            long i = call_number(v, n, "sub-", &rest);
            const char *body, *voice;
            size_t b = body_of(in, len, &body);
            if (i >= 0 && b && (voice = memmem(body, b, "Voice-Message:", 14)))
                notified_with((int)i, (uint32_t)strtoul(voice + 14, NULL, 10), at);
        }
        answer_ok(in, len, from);
        return;
    }
    if (len < 12) return;
    int code = atoi(in + 8);
    if (code < 200 || !(n = header_value(in, len, "Call-ID", 'i', &v))) return;
    long i;
    if ((i = call_number(v, n, "sub-", &rest)) >= 0) {
        const char *c;
        size_t cn = header_value(in, len, "CSeq", 0, &c);
        if (cn && c[0] == '2') { /* the end of a subscription */
            if (leaving[i]) { leaving[i] = 0; left++; to_leave--; }
            return;
        }
        if (!unanswered[i]) return;
        unanswered[i] = 0;
        if (code < 300) {
            subscribed++;
            const char *t, *tag;
            size_t tn = header_value(in, len, "To", 't', &t);
            if (tn && (tag = memmem(t, tn, ";tag=", 5))) {
                size_t k = (size_t)(t + tn - tag - 5);
                const char *semi = memchr(tag + 5, ';', k);
                if (semi) k = (size_t)(semi - tag - 5);
                if (k < sizeof to_tags[0]) { memcpy(to_tags[i], tag + 5, k); to_tags[i][k] = 0; }
            }
        } else {
            failed++;
        }
        if (started < count) { unanswered[started] = 1; subscribe(started++, 0); }
    } else if ((i = call_number(v, n, "end-", &rest)) >= 0) {
        if (removing[i]) { removing[i] = 0; removed++; to_remove--; }
    } else if ((i = call_number(v, n, "pub-", &rest)) >= 0 && *rest == '-') {
        uint32_t r = (uint32_t)strtoul(rest + 1, NULL, 10);
        long p = (long)r - (long)base - 1;
        p = p * count + i;
        int this_rate = p >= 0 && p < sent; /* not a late answer from an earlier rate */
        if (code < 300) {
            ok += this_rate;
            if (this_rate && n_ans < capacity) answers[n_ans++] = at - sent_at[p];
            const char *e;
            size_t en = header_value(in, len, "SIP-ETag", 0, &e);
            if (en && en < sizeof etags[0]) { memcpy(etags[i], e, en); etags[i][en] = 0; }
        } else {
            etags[i][0] = 0; /* start a new publication next time */
            refused += this_rate;
            static int told;
            if (told++ < 5) { /* what the server said, the first few times */
                const char *eol = memchr(in, '\r', len);
                fprintf(stderr, "fanout-load: a PUBLISH answered %.*s\n", (int)(eol ? eol - in : 40), in);
            }
        }
    }
}

/* Reads what has arrived (waiting up to `timeout_ms` for the first), handles it, flushes. */
static void turn(int timeout_ms) { receive(timeout_ms, on_datagram); }

/* Turns the loop for `seconds`, or until `done` says so. */
static void run_for(double seconds, int (*done)(void)) {
    uint64_t until = now_ns() + (uint64_t)(seconds * 1e9);
    while (now_ns() < until && !(done && done())) turn(5);
}

static double cpu_ms(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000;
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
static void percentile(char *out, size_t size, uint64_t *v, long n, double q) {
    if (n == 0) { snprintf(out, size, "-"); return; }
    long k = (long)((double)n * q);
    if (k >= n) k = n - 1;
    snprintf(out, size, "%.2f", (double)v[k] / 1e6);
}

static int all_subscribed(void) { return subscribed + failed >= count; }
/* Every publication answered, and its counts (or newer ones) at the subscriber. */
static int all_resolved(void) { return notified + superseded >= sent && ok + refused >= sent; }

/* Ends what `has` says each mailbox has, with `end`, WINDOW at a time: up to 20 s, the
 * unanswered sent again every 2 s (a server still working through an overload drops
 * some). `pending` marks what is in flight, `done` counts the answered, `remaining` the
 * rest (both kept by on_datagram). Returns how many there were to end. */
static int has_dialog(int i) { return to_tags[i][0] != 0; }
static int has_publication(int i) { return etags[i][0] != 0; }
static void unsubscribe(int i) { subscribe(i, 1); }
static int end_all(unsigned char *pending, int *done, int *remaining, int (*has)(int), void (*end)(int)) {
    int next = 0, asked = 0;
    for (int i = 0; i < count; i++) *remaining += has(i);
    int total = *remaining;
    uint64_t start = now_ns(), resend_at = start + 2000000000ull;
    while (*remaining > 0 && now_ns() - start < 20000000000ull) {
        for (; next < count && asked - *done < WINDOW; next++)
            if (has(next)) { pending[next] = 1; asked++; end(next); }
        flush();
        if (now_ns() > resend_at) {
            resend_at += 2000000000ull;
            for (int i = 0; i < next; i++) if (pending[i]) end(i);
            flush();
        }
        turn(5);
    }
    return total;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: fanout-load SERVER_PORT COUNT SECONDS RATE...\n");
        return 2;
    }
    server_port = atoi(argv[1]);
    count = atoi(argv[2]);
    double seconds = atof(argv[3]);
    if (server_port <= 0 || server_port > 65535 || count <= 0 || count > 9999999 || seconds <= 0) {
        fprintf(stderr, "fanout-load: SERVER_PORT 1-65535, COUNT 1-9999999, SECONDS > 0\n");
        return 2;
    }
    long most = 0;
    for (int a = 4; a < argc; a++) {
        long r = atol(argv[a]);
        if (r <= 0) { fprintf(stderr, "fanout-load: a RATE is a positive number, not %s\n", argv[a]); return 2; }
        if ((long)(r * seconds) > most) most = (long)(r * seconds);
    }
    capacity = most + 1;
    out_buf = malloc((size_t)OUTGOING * DATAGRAM);
    to_tags = calloc((size_t)count, sizeof *to_tags);
    etags = calloc((size_t)count, sizeof *etags);
    unanswered = calloc((size_t)count, 1);
    leaving = calloc((size_t)count, 1);
    removing = calloc((size_t)count, 1);
    rounds = calloc((size_t)count, sizeof *rounds);
    resolved_round = calloc((size_t)count, sizeof *resolved_round);
    sent_at = calloc((size_t)capacity, sizeof *sent_at);
    state = calloc((size_t)capacity, 1);
    latencies = calloc((size_t)capacity, sizeof *latencies);
    answers = calloc((size_t)capacity, sizeof *answers);
    if (!out_buf || !to_tags || !etags || !unanswered || !leaving || !removing || !rounds || !resolved_round || !sent_at || !state ||
        !latencies || !answers) {
        perror("fanout-load: memory");
        return 1;
    }
    if (!(local_port = open_loopback(16 << 20))) return 1;
    server = loopback(server_port);
    branch_seed = now_ns() << 16;
    base = (uint32_t)(time(NULL) % 1000000) * 1000; /* the first counts: see the top */

    /* Subscribing, WINDOW at a time; the unanswered again every second (for up to 120 s). */
    uint64_t start = now_ns();
    for (; started < count && started < WINDOW; started++) { unanswered[started] = 1; subscribe(started, 0); }
    flush();
    for (int second = 0; second < 120 && !all_subscribed(); second++) {
        run_for(1, all_subscribed);
        for (int i = 0; i < started && !all_subscribed(); i++)
            if (unanswered[i]) subscribe(i, 0);
        flush();
    }
    printf("subscribed %d in %.2f s (%d failed)\n", subscribed, (double)(now_ns() - start) / 1e9, failed);
    fflush(stdout);
    run_for(2, NULL); /* the first NOTIFYs (the state at subscription) settle */

    for (int a = 4; a < argc; a++) {
        long rate = atol(argv[a]), total = (long)(rate * seconds);
        sent = ok = refused = notified = superseded = n_lat = n_ans = 0;
        /* Every mailbox from the same round on: the highest any reached so far. */
        for (int i = 0; i < count; i++) if (rounds[i] > base) base = rounds[i];
        for (int i = 0; i < count; i++) rounds[i] = resolved_round[i] = base;
        double cpu0 = cpu_ms();
        uint64_t t0 = now_ns();
        while (sent < total) {
            long due = (long)((double)(now_ns() - t0) / 1e9 * (double)rate);
            if (due > total) due = total;
            while (sent < due) publish();
            turn(0);
            /* Paced to the millisecond: wait for input when nothing is due. */
            if ((long)((double)(now_ns() - t0) / 1e9 * (double)rate) <= sent) turn(1);
        }
        flush();
        double send_seconds = (double)(now_ns() - t0) / 1e9;
        run_for(5, all_resolved);
        double cpu = cpu_ms() - cpu0;
        qsort(latencies, (size_t)n_lat, sizeof *latencies, compare);
        qsort(answers, (size_t)n_ans, sizeof *answers, compare);
        char p50[16], p99[16], mx[16], a50[16], a99[16];
        percentile(p50, sizeof p50, latencies, n_lat, 0.5);
        percentile(p99, sizeof p99, latencies, n_lat, 0.99);
        percentile(mx, sizeof mx, latencies, n_lat, 1.0);
        percentile(a50, sizeof a50, answers, n_ans, 0.5);
        percentile(a99, sizeof a99, answers, n_ans, 0.99);
        printf("rate %ld sent %ld in %.2f s ok %ld notified %ld superseded %ld lost %ld p50_ms %s p99_ms %s max_ms %s "
               "answer_p50_ms %s answer_p99_ms %s cpu_ms %.0f\n",
               rate, sent, send_seconds, ok, notified, superseded, sent - notified - superseded, p50, p99, mx, a50, a99, cpu);
        fflush(stdout);
        run_for(1, NULL);
    }

    int total_leave = end_all(leaving, &left, &to_leave, has_dialog, unsubscribe);
    printf("unsubscribed %d of %d\n", left, total_leave);
    fflush(stdout);
    int total_remove = end_all(removing, &removed, &to_remove, has_publication, unpublish);
    printf("unpublished %d of %d\n", removed, total_remove);
    fflush(stdout);
    run_for(0.5, NULL); /* the final NOTIFYs are answered before the socket closes */
    return 0;
}
