/*
 * sip-lite.h: the few SIP operations of the benchmark tools in C (sip-responder,
 * fanout-load), on datagrams as they come: header lookup, the user of a Request-URI,
 * a 200 built from a request, the body. No validation: the peers are mwid, Kamailio and
 * each other, on loopback.
 */
#ifndef SIP_LITE_H
#define SIP_LITE_H
#define _GNU_SOURCE
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef SIZE
#define SIZE 65536
#endif

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

/* The user part of the Request-URI (between "sip:" and "@" of the first line; NULL when
 * there is none); returns the end of the first line, NULL when there is no line. */
static const char *request_user(const char *in, size_t len, const char **user, size_t *user_len) {
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
static size_t respond(const char *in, size_t len, char *out, const char **user, size_t *user_len, const char *extra) {
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
static size_t header_value(const char *in, size_t len, const char *name, char c, const char **value) {
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
static size_t body_of(const char *in, size_t len, const char **body) {
    const char *b = memmem(in, len, "\r\n\r\n", 4);
    if (!b) return 0;
    *body = b + 4;
    return len - (size_t)(b + 4 - in);
}

#endif
