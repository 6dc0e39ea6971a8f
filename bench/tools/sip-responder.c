/*
 * sip-responder: a stateless SIP UDP responder for mwid's benchmarks — the "fast 200
 * responder" the issues measure against, cheaper than Kamailio so that mwid's own cost
 * shows. Every request gets "200 OK" built from its Via, From, To (a tag added when
 * there is none), Call-ID and CSeq; datagrams are read and written in batches
 * (recvmmsg/sendmmsg).
 *
 *   sip-responder PORT [--seconds N] [--log FILE] [--drop]
 *
 * --log FILE   writes one line per request: CLOCK_MONOTONIC nanoseconds and the user part
 *              of the Request-URI (for latency measurements across processes).
 * --drop       answers nothing (a black hole: transactions stay in flight).
 * --seconds N  exits after N seconds (default 600); SIGTERM and SIGINT stop it too.
 * On exit it prints: requests, responses, first and last request (monotonic ns).
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

static volatile sig_atomic_t stop = 0;
static void on_signal(int s) { (void)s; stop = 1; }

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Whether the line at p (length n) starts with header `name` or compact form `c`. */
static int is_header(const char *p, size_t n, const char *name, char c) {
    size_t k = strlen(name);
    if (n > k && strncasecmp(p, name, k) == 0 && (p[k] == ':' || p[k] == ' ' || p[k] == '\t')) return 1;
    if (c && n > 1 && tolower((unsigned char)p[0]) == c && (p[1] == ':' || p[1] == ' ' || p[1] == '\t')) return 1;
    return 0;
}

/* Builds the 200 for the request in `in`; returns its length, 0 when `in` is not a request. */
static size_t respond(const char *in, size_t len, char *out, const char **user, size_t *user_len) {
    if (len < 8 || memcmp(in, "SIP/2.0 ", 8) == 0) return 0; /* a response: nothing to do */
    size_t o = 0;
    memcpy(out, "SIP/2.0 200 OK\r\n", 16);
    o = 16;
    /* Request-URI user: between "sip:" and "@" of the first line. */
    *user = NULL;
    *user_len = 0;
    const char *eol = memchr(in, '\n', len);
    if (!eol) return 0;
    const char *colon = memchr(in, ':', (size_t)(eol - in));
    if (colon) {
        const char *at = memchr(colon, '@', (size_t)(eol - colon));
        if (at) { *user = colon + 1; *user_len = (size_t)(at - colon - 1); }
    }
    const char *p = eol + 1, *end = in + len;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) break;
        size_t n = (size_t)(e - p) + 1; /* with the LF */
        size_t content = n - 1 - (n >= 2 && p[n - 2] == '\r');
        if (content == 0) break; /* end of headers */
        int to = is_header(p, content, "To", 't');
        if (is_header(p, content, "Via", 'v') || is_header(p, content, "From", 'f') || to ||
            is_header(p, content, "Call-ID", 'i') || is_header(p, content, "CSeq", 0)) {
            if (o + n + 32 > SIZE) return 0;
            memcpy(out + o, p, content);
            o += content;
            if (to && memmem(p, content, ";tag=", 5) == NULL) { memcpy(out + o, ";tag=r1", 7); o += 7; }
            memcpy(out + o, "\r\n", 2);
            o += 2;
        }
        p = e + 1;
    }
    memcpy(out + o, "Content-Length: 0\r\n\r\n", 21);
    return o + 21;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sip-responder PORT [--seconds N] [--log FILE] [--drop]\n");
        return 2;
    }
    int port = atoi(argv[1]), drop = 0;
    double seconds = 600;
    FILE *log = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--drop")) drop = 1;
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
            log = fopen(argv[++i], "w");
            if (!log) { perror("log"); return 1; }
        }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int buffer = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = inet_addr("127.0.0.1");
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("bind"); return 1; }
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    static char in[BATCH][SIZE], out[BATCH][SIZE];
    struct mmsghdr rx[BATCH], tx[BATCH];
    struct iovec rio[BATCH], tio[BATCH];
    struct sockaddr_in from[BATCH];
    uint64_t requests = 0, responses = 0, first = 0, last = 0;
    uint64_t deadline = now_ns() + (uint64_t)(seconds * 1e9);
    fprintf(stderr, "sip-responder: listening on 127.0.0.1:%d%s\n", port, drop ? " (dropping)" : "");
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
            const char *user;
            size_t user_len;
            size_t len = respond(in[i], rx[i].msg_len, out[m], &user, &user_len);
            if (!len) continue;
            requests++;
            if (!first) first = t;
            last = t;
            if (log) fprintf(log, "%llu %.*s\n", (unsigned long long)t, (int)user_len, user ? user : "");
            if (drop) continue;
            tio[m] = (struct iovec){out[m], len};
            tx[m].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = rx[i].msg_hdr.msg_namelen, .msg_iov = &tio[m], .msg_iovlen = 1};
            m++;
        }
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
