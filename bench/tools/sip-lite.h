/*
 * sip-lite.h: what the benchmark tools in C (sip-responder, fanout-load, subscribe-load)
 * share: a few SIP operations on datagrams as they come (header lookup, the user of a
 * Request-URI, a 200 built from a request, the body) and one UDP socket's batched I/O
 * (recvmmsg, sendmmsg). No validation: the peers are mwid, Kamailio and each other, on
 * loopback.
 */
#ifndef SIP_LITE_H
#define SIP_LITE_H
#define _GNU_SOURCE
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#ifndef SIZE
#define SIZE 65536
#endif
#ifndef BATCH
#define BATCH 64
#endif
#define OUTGOING 4096 /* datagrams queued before a flush */
#define DATAGRAM 2048 /* the largest one the load tools send */

static inline uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Whether the line at p (length n) starts with header `name` or compact form `c`. */
static inline int is_header(const char *p, size_t n, const char *name, char c) {
    size_t k = strlen(name);
    if (n > k && strncasecmp(p, name, k) == 0 && (p[k] == ':' || p[k] == ' ' || p[k] == '\t')) return 1;
    if (c && n > 1 && tolower((unsigned char)p[0]) == c && (p[1] == ':' || p[1] == ' ' || p[1] == '\t')) return 1;
    return 0;
}

/* The user part of the Request-URI (between "sip:" and "@" of the first line; NULL when
 * there is none); returns the end of the first line, NULL when there is no line. */
static inline const char *request_user(const char *in, size_t len, const char **user, size_t *user_len) {
    *user = NULL;
    *user_len = 0;
    const char *eol = memchr(in, '\n', len);
    if (!eol) return NULL;
    const char *colon = memchr(in, ':', (size_t)(eol - in));
    if (colon) {
        const char *at = memchr(colon, '@', (size_t)(eol - colon));
        if (at) { *user = colon + 1; *user_len = (size_t)(at - colon - 1); }
    }
    return eol;
}

/* Builds the 200 for the request in `in`, with the header lines `extra` added; returns its length, 0 when `in` is not a request. */
static inline size_t respond(const char *in, size_t len, char *out, const char **user, size_t *user_len, const char *extra) {
    if (len < 8 || memcmp(in, "SIP/2.0 ", 8) == 0) return 0; /* a response: nothing to do */
    size_t o = 0;
    memcpy(out, "SIP/2.0 200 OK\r\n", 16);
    o = 16;
    const char *eol = request_user(in, len, user, user_len);
    if (!eol) return 0;
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
    size_t e = strlen(extra);
    if (o + e + 21 > SIZE) return 0;
    memcpy(out + o, extra, e);
    o += e;
    memcpy(out + o, "Content-Length: 0\r\n\r\n", 21);
    return o + 21;
}

/* The value of header `name` (or compact `c`) in the request's head, trimmed; 0 when absent. */
static inline size_t header_value(const char *in, size_t len, const char *name, char c, const char **value) {
    const char *p = memchr(in, '\n', len), *end = in + len;
    if (!p) return 0;
    for (p++; p < end;) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) return 0;
        size_t content = (size_t)(e - p) - (e > p && e[-1] == '\r');
        if (content == 0) return 0;
        if (is_header(p, content, name, c)) {
            const char *v = memchr(p, ':', content), *stop = p + content;
            if (!v) return 0;
            for (v++; v < stop && (*v == ' ' || *v == '\t'); v++) {}
            *value = v;
            return (size_t)(stop - v);
        }
        p = e + 1;
    }
    return 0;
}

/* The body of a request (after the blank line), and its length. */
static inline size_t body_of(const char *in, size_t len, const char **body) {
    const char *b = memmem(in, len, "\r\n\r\n", 4);
    if (!b) return 0;
    *body = b + 4;
    return len - (size_t)(b + 4 - in);
}

/* Outgoing datagrams, sent in batches (sendmmsg) when the queue fills or the loop turns. */
static int out_fd;
static char *out_buf; /* OUTGOING slots of DATAGRAM bytes, malloc()ed by the tool */
static size_t out_len[OUTGOING];
static struct sockaddr_in out_to[OUTGOING];
static int out_n;

static inline void flush(void) {
    struct mmsghdr tx[BATCH];
    struct iovec io[BATCH];
    for (int done = 0; done < out_n;) {
        int m = out_n - done < BATCH ? out_n - done : BATCH;
        for (int j = 0; j < m; j++) {
            io[j] = (struct iovec){out_buf + (size_t)(done + j) * DATAGRAM, out_len[done + j]};
            tx[j].msg_hdr = (struct msghdr){.msg_name = &out_to[done + j], .msg_namelen = sizeof out_to[0], .msg_iov = &io[j], .msg_iovlen = 1};
        }
        int k = sendmmsg(out_fd, tx, (unsigned)m, 0);
        if (k < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == ENOBUFS) { struct pollfd p = {out_fd, POLLOUT, 0}; poll(&p, 1, 10); continue; }
            perror("sendmmsg");
            break;
        }
        done += k;
    }
    out_n = 0;
}

/* A slot for one outgoing datagram of at most DATAGRAM bytes, to `to`. */
static inline char *slot(const struct sockaddr_in *to) {
    if (out_n == OUTGOING) flush();
    out_to[out_n] = *to;
    return out_buf + (size_t)out_n * DATAGRAM;
}
static inline void queued(size_t len) { out_len[out_n++] = len; }

/* Queues the 200 for the request `in` (from `from`); nothing when it is not a request or
 * its answer would not fit a slot (built apart first: a request may be bigger than one). */
static inline void answer_ok(const char *in, size_t len, const struct sockaddr_in *from) {
    static char answer[SIZE];
    const char *user;
    size_t user_len, n = respond(in, len, answer, &user, &user_len, "");
    if (n == 0 || n > DATAGRAM) return;
    memcpy(slot(from), answer, n);
    queued(n);
}

/* 127.0.0.1:port. */
static inline struct sockaddr_in loopback(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* Opens the tool's socket, non-blocking, on 127.0.0.1 and a free port, with send and
 * receive buffers of `buffer` bytes, as out_fd; returns its port, 0 when it fails. */
static inline int open_loopback(int buffer) {
    out_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    setsockopt(out_fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    setsockopt(out_fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    struct sockaddr_in local = loopback(0);
    socklen_t n = sizeof local;
    if (out_fd < 0 || bind(out_fd, (struct sockaddr *)&local, sizeof local) != 0 ||
        getsockname(out_fd, (struct sockaddr *)&local, &n) != 0) {
        perror("socket");
        return 0;
    }
    return ntohs(local.sin_port);
}

/* Reads what has arrived on out_fd (waiting up to `timeout_ms` for the first, unless
 * datagrams are queued to go), gives each to `handle`, then sends what is queued. */
static inline void receive(int timeout_ms, void (*handle)(const char *, size_t, const struct sockaddr_in *)) {
    static char in[BATCH][SIZE];
    struct mmsghdr rx[BATCH];
    struct iovec io[BATCH];
    struct sockaddr_in from[BATCH];
    struct pollfd p = {out_fd, POLLIN, 0};
    if (out_n == 0 && poll(&p, 1, timeout_ms) <= 0) return;
    for (int rounds_read = 0; rounds_read < 16; rounds_read++) {
        for (int j = 0; j < BATCH; j++) {
            io[j] = (struct iovec){in[j], SIZE};
            rx[j].msg_hdr = (struct msghdr){.msg_name = &from[j], .msg_namelen = sizeof from[j], .msg_iov = &io[j], .msg_iovlen = 1};
        }
        int k = recvmmsg(out_fd, rx, BATCH, MSG_DONTWAIT, NULL);
        if (k <= 0) break;
        for (int j = 0; j < k; j++) handle(in[j], rx[j].msg_len, &from[j]);
        if (k < BATCH) break;
    }
    flush();
}

#endif
