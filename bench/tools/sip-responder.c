/*
 * sip-responder: a stateless SIP UDP responder for mwid's benchmarks — the "fast 200
 * responder" the issues measure against, cheaper than Kamailio so that mwid's own cost
 * shows. Every request gets "200 OK" built from its Via, From, To (a tag added when
 * there is none), Call-ID and CSeq; datagrams are read and written in batches
 * (recvmmsg/sendmmsg).
 *
 *   sip-responder PORT [--seconds N] [--log FILE] [--drop] [--rcvbuf BYTES]
 *
 * --log FILE   writes one line per request: CLOCK_MONOTONIC nanoseconds and the user part
 *              of the Request-URI (for latency measurements across processes).
 * --drop       answers nothing (a black hole: transactions stay in flight).
 * --seconds N  exits after N seconds (default 600); SIGTERM and SIGINT stop it too.
 * --rcvbuf N   the socket's receive buffer, as SO_RCVBUF (default 8 MiB; 0 leaves the
 *              system's default, 212 992 bytes on Debian, as a PBX that sets none):
 *              what a burst of NOTIFYs must fit in.
 * --notifier   a message-summary notifier that does nothing but the wire work: the
 *              machine's ceiling for the fan-out workload (bench/fanout/run). A SUBSCRIBE
 *              gets its 200 (with the request's Expires) and, unless it ends the
 *              subscription, a first NOTIFY; its dialog is kept by the number in the
 *              Request-URI's user part. A PUBLISH gets its 200 (SIP-ETag, Expires) and
 *              its body goes, unchanged, in a NOTIFY to that number's subscriber.
 *              Responses (the subscribers' 200s) are read and dropped: no transactions,
 *              no retransmissions, nothing stored but the dialogs, in memory.
 * On exit it prints: requests, responses (NOTIFYs included), first and last request
 * (monotonic ns).
 *
 * Build: cc -O2 -o sip-responder sip-responder.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define SIZE 65536
#include "sip-lite.h"
#define DIALOGS (1 << 21) /* the notifier's numbers: 0 … 2 097 151 */

static volatile sig_atomic_t stop = 0;
static void on_signal(int s) { (void)s; stop = 1; }

/* --notifier: one subscription's dialog, seen from the notifier. */
struct dialog {
    struct sockaddr_in peer;
    uint32_t cseq;
    char used, call_id[80], local[160], remote[160], target[120];
};

/* Copies a value of length n into a field of size `size`; 0 when it does not fit. */
static int keep(char *field, size_t size, const char *v, size_t n) {
    if (n + 1 > size) return 0;
    memcpy(field, v, n);
    field[n] = 0;
    return 1;
}

/* A NOTIFY in dialog `d` carrying `body`; returns its length, 0 when it does not fit. */
static size_t notify(struct dialog *d, int port, uint64_t branch, const char *state, const char *body, size_t body_len, char *out) {
    int n = snprintf(out, SIZE,
                     "NOTIFY %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKn%llx\r\nMax-Forwards: 70\r\n"
                     "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u NOTIFY\r\nContact: <sip:127.0.0.1:%d>\r\n"
                     "Event: message-summary\r\nSubscription-State: %s\r\n"
                     "Content-Type: application/simple-message-summary\r\nContent-Length: %zu\r\n\r\n",
                     d->target, port, (unsigned long long)branch, d->local, d->remote, d->call_id, ++d->cseq, port, state, body_len);
    if (n <= 0 || (size_t)n + body_len > SIZE) return 0;
    memcpy(out + n, body, body_len);
    return (size_t)n + body_len;
}

/* --notifier: the dialog a SUBSCRIBE opens or ends, and the NOTIFY it gets (0 if none). */
static size_t subscribed(const char *in, size_t len, struct dialog *d, const struct sockaddr_in *peer, long expires,
                         int port, uint64_t branch, char *out) {
    const char *v;
    size_t n;
    if (!(n = header_value(in, len, "Call-ID", 'i', &v)) || !keep(d->call_id, sizeof d->call_id, v, n)) return 0;
    if (!(n = header_value(in, len, "From", 'f', &v)) || !keep(d->remote, sizeof d->remote, v, n)) return 0;
    if (!(n = header_value(in, len, "To", 't', &v)) || !keep(d->local, sizeof d->local, v, n)) return 0;
    if (!memmem(v, n, ";tag=", 5) && !keep(d->local + n, sizeof d->local - n, ";tag=r1", 7)) return 0;
    /* The remote target: the Contact's URI, or the From's. */
    if (!(n = header_value(in, len, "Contact", 'm', &v)) && !(n = header_value(in, len, "From", 'f', &v))) return 0;
    const char *open = memchr(v, '<', n), *close = open ? memchr(open, '>', (size_t)(v + n - open)) : NULL;
    if (open && close) { v = open + 1; n = (size_t)(close - open - 1); }
    if (!keep(d->target, sizeof d->target, v, n)) return 0;
    d->peer = *peer;
    d->used = expires > 0;
    static const char none[] = "Messages-Waiting: no\r\nVoice-Message: 0/0\r\n";
    char state[48];
    if (expires > 0) snprintf(state, sizeof state, "active;expires=%ld", expires);
    else snprintf(state, sizeof state, "terminated;reason=timeout");
    return notify(d, port, branch, state, none, sizeof none - 1, out);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sip-responder PORT [--seconds N] [--log FILE] [--drop] [--notifier]\n");
        return 2;
    }
    int port = atoi(argv[1]), drop = 0, notifier = 0;
    double seconds = 600;
    int receiveBuffer = 8 << 20;
    FILE *log = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--drop")) drop = 1;
        else if (!strcmp(argv[i], "--notifier")) notifier = 1;
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rcvbuf") && i + 1 < argc) receiveBuffer = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
            log = fopen(argv[++i], "w");
            if (!log) { perror("log"); return 1; }
        }
    }
    struct dialog *dialogs = notifier ? calloc(DIALOGS, sizeof *dialogs) : NULL;
    if (notifier && !dialogs) { perror("calloc"); return 1; }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int buffer = 8 << 20;
    if (receiveBuffer > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = inet_addr("127.0.0.1");
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("bind"); return 1; }
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    /* Each request may get its response and a NOTIFY: two datagrams out per datagram in. */
    static char in[BATCH][SIZE], out[2 * BATCH][SIZE];
    struct mmsghdr rx[BATCH], tx[2 * BATCH];
    struct iovec rio[BATCH], tio[2 * BATCH];
    struct sockaddr_in from[BATCH], to[2 * BATCH];
    uint64_t requests = 0, responses = 0, first = 0, last = 0, branch = 0;
    uint64_t deadline = now_ns() + (uint64_t)(seconds * 1e9);
    fprintf(stderr, "sip-responder: listening on 127.0.0.1:%d%s\n", port,
            drop ? " (dropping)" : notifier ? " (message-summary notifier)" : "");
    while (!stop && now_ns() < deadline) {
        for (int i = 0; i < BATCH; i++) {
            rio[i] = (struct iovec){in[i], SIZE};
            rx[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &rio[i], .msg_iovlen = 1};
        }
        int n = recvmmsg(fd, rx, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0) continue;
        uint64_t t = now_ns();
        int m = 0;
        for (int i = 0; i < n; i++) {
            const char *user, *v;
            size_t user_len, len = rx[i].msg_len, vn;
            char extra[96] = "";
            int subscribe = 0, publish = 0;
            long expires = 0, number = -1;
            if (notifier) {
                subscribe = len > 10 && !memcmp(in[i], "SUBSCRIBE ", 10);
                publish = len > 8 && !memcmp(in[i], "PUBLISH ", 8);
                if ((vn = header_value(in[i], len, "Expires", 0, &v))) expires = strtol(v, NULL, 10);
                if (request_user(in[i], len, &user, &user_len) && user && user_len > 0 && user_len < 8) {
                    char digits[8], *rest;
                    memcpy(digits, user, user_len);
                    digits[user_len] = 0;
                    number = strtol(digits, &rest, 10);
                    if (*rest || number < 0 || number >= DIALOGS) number = -1;
                }
                if (subscribe) snprintf(extra, sizeof extra, "Expires: %ld\r\n", expires);
                if (publish) snprintf(extra, sizeof extra, "SIP-ETag: e%ld\r\nExpires: %ld\r\n", number, expires);
            }
            size_t answer = respond(in[i], len, out[m], &user, &user_len, extra);
            if (!answer) continue;
            requests++;
            if (!first) first = t;
            last = t;
            if (log) fprintf(log, "%llu %.*s\n", (unsigned long long)t, (int)user_len, user ? user : "");
            if (drop) continue;
            to[m] = from[i];
            tio[m] = (struct iovec){out[m], answer};
            m++;
            size_t sent_notify = 0;
            if (subscribe && number >= 0) {
                sent_notify = subscribed(in[i], len, &dialogs[number], &from[i], expires, port, ++branch, out[m]);
            } else if (publish && number >= 0 && dialogs[number].used) {
                const char *body = "";
                size_t body_len = body_of(in[i], len, &body);
                sent_notify = notify(&dialogs[number], port, ++branch, "active;expires=3600", body, body_len, out[m]);
            }
            if (sent_notify) {
                to[m] = dialogs[number].peer;
                tio[m] = (struct iovec){out[m], sent_notify};
                m++;
            }
        }
        for (int j = 0; j < m; j++)
            tx[j].msg_hdr = (struct msghdr){.msg_name = &to[j], .msg_namelen = sizeof to[j], .msg_iov = &tio[j], .msg_iovlen = 1};
        int sent = 0;
        while (sent < m) {
            int k = sendmmsg(fd, tx + sent, (unsigned)(m - sent), 0);
            if (k <= 0) { if (errno == EINTR) continue; break; }
            sent += k;
        }
        responses += (uint64_t)sent;
    }
    if (log) fclose(log);
    printf("requests %llu responses %llu first %llu last %llu\n", (unsigned long long)requests,
           (unsigned long long)responses, (unsigned long long)first, (unsigned long long)last);
    return 0;
}
