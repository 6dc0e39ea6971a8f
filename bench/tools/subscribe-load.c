/*
 * subscribe-load: the crowd of phones of bench/subscriptions/run, in C, so that the crowd
 * is not what limits the rates measured: phones subscribing to their mailboxes on a
 * running mwid over UDP with digest, then answering NOTIFYs.
 *
 *   subscribe-load subscribe MWID_PORT COUNT WINDOW [FIRST [shuffled]]
 *
 * Phones 0 … COUNT-1 subscribe to extensions FIRST+i (7 digits, user name the extension,
 * password "secret"), WINDOW at a time (`shuffled`: the extensions FIRST … FIRST+COUNT-1
 * in a scattered order, as phones that restart together subscribe; else in order): SUBSCRIBE, 401, SUBSCRIBE with credentials (MD5
 * digest, qop=auth when offered; a new challenge, for a stale nonce, answered again), 200;
 * the unanswered sent again every second, as retransmissions (the same branch). Every
 * NOTIFY is answered 200 and counted. Once the crowd is subscribed it prints
 * "subscribed N in S s: R/s (X failed)", then stays, answering NOTIFYs, and reads
 * commands on standard input: `mark` forgets the NOTIFYs counted so far, `report` prints
 * "notifies N first_ns F last_ns L phones P phones_last_ns Q" (CLOCK_MONOTONIC ns): N
 * NOTIFYs received since the mark, retransmissions included, the first at F and the last
 * at L; P phones that received at least one, the last of them its first at Q. `quit` or
 * the end of input ends it. mwid keeps the subscriptions.
 *
 * Build: cc -O2 -o subscribe-load subscribe-load.c -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#define BATCH 64
#define SIZE 65536
#include "sip-lite.h"

static int mwid_port, local_port, count, window, first;
static long long stride = 1; /* phone i subscribes to FIRST + (i * stride) mod COUNT */
static struct sockaddr_in mwid;
static uint64_t branch_seed;
static unsigned char *state; /* per phone: 0 not started, 1 waiting for the 401, 2 for the 200, 3 done */
static unsigned char *challenges; /* per phone: the 401s answered (a stale nonce gets a new one) */
static uint64_t *branches; /* per phone: its request's branch, kept when it is sent again */
static char (*authorization)[512];
static int started, subscribed, failed;
static long notifies, phones;
static uint64_t first_notify, last_notify, phones_last;
static uint32_t *notified_mark, mark = 1; /* per phone: the mark of its last NOTIFY */

/* The MD5 of `text` in lower-case hex (33 bytes with the NUL). */
static void md5_hex(const char *text, size_t n, char out[33]) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text, n, digest, &size, EVP_md5(), NULL);
    for (unsigned int k = 0; k < size && k < 16; k++) sprintf(out + 2 * k, "%02x", digest[k]);
    out[32] = 0;
}

/* Phone i's SUBSCRIBE: a new transaction, or (`again`) its request sent once more as a
 * retransmission, with the same branch, so that the server answers it from the
 * transaction instead of taking it for a replay of the credentials. */
static int extension_of(int i) { return first + (int)(((long long)i * stride) % count); }

static long long gcd(long long a, long long b) { return b ? gcd(b, a % b) : a; }

static void subscribe(int i, int again) {
    int ext = extension_of(i);
    if (!again) branches[i] = ++branch_seed;
    char *o = slot(&mwid);
    int n = snprintf(o, DATAGRAM,
                     "SUBSCRIBE sip:%07d@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKc%llx\r\n"
                     "Max-Forwards: 70\r\nFrom: <sip:%07d@127.0.0.1:%d>;tag=p%d\r\nTo: <sip:%07d@127.0.0.1:%d>\r\n"
                     "Call-ID: sub-%d@bench\r\nCSeq: %d SUBSCRIBE\r\nContact: <sip:p%d@127.0.0.1:%d>\r\n"
                     "Event: message-summary\r\nAccept: application/simple-message-summary\r\nExpires: 3600\r\n"
                     "%s%s%sContent-Length: 0\r\n\r\n",
                     ext, mwid_port, local_port, (unsigned long long)branches[i], ext, mwid_port, i, ext, mwid_port, i,
                     state[i] == 2 ? 2 : 1, i, local_port, state[i] == 2 ? "Authorization: " : "",
                     state[i] == 2 ? authorization[i] : "", state[i] == 2 ? "\r\n" : "");
    if (n > 0 && n < DATAGRAM) queued((size_t)n);
}

static void next(void) {
    if (started >= count) return;
    state[started] = 1;
    subscribe(started++, 0);
}

/* The value of parameter `name` in a challenge (quoted or not); 0 when absent. */
static size_t parameter(const char *v, size_t n, const char *name, const char **value) {
    size_t k = strlen(name);
    for (const char *p = v; p + k < v + n; p++) {
        if ((p == v || p[-1] == ' ' || p[-1] == ',' || p[-1] == '\t') && !strncasecmp(p, name, k) && p[k] == '=') {
            const char *s = p + k + 1, *end = v + n;
            if (s < end && *s == '"') {
                const char *q = memchr(s + 1, '"', (size_t)(end - s - 1));
                if (!q) return 0;
                *value = s + 1;
                return (size_t)(q - s - 1);
            }
            const char *e = s;
            while (e < end && *e != ',' && *e != ' ') e++;
            *value = s;
            return (size_t)(e - s);
        }
    }
    return 0;
}

/* The Authorization of phone i for the MD5 challenge in `v`; 0 when there is none. */
static int answer(int i, const char *in, size_t len) {
    /* The first WWW-Authenticate whose algorithm is MD5 (or not named). */
    const char *p = memchr(in, '\n', len), *end = in + len;
    for (p = p ? p + 1 : end; p < end;) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) break;
        size_t content = (size_t)(e - p) - (e > p && e[-1] == '\r');
        if (content == 0) break;
        if (is_header(p, content, "WWW-Authenticate", 0)) {
            const char *v = memchr(p, ':', content), *a, *realm, *nonce, *qop, *opaque;
            v++;
            size_t vn = (size_t)(p + content - v), an = parameter(v, vn, "algorithm", &a);
            size_t rn = parameter(v, vn, "realm", &realm), nn = parameter(v, vn, "nonce", &nonce);
            size_t qn = parameter(v, vn, "qop", &qop), on = parameter(v, vn, "opaque", &opaque);
            if ((an == 0 || (an == 3 && !strncasecmp(a, "MD5", 3))) && rn && nn) {
                int auth = qn && memmem(qop, qn, "auth", 4) != NULL;
                char text[1024], ha1[33], ha2[33], response[33], uri[64], cnonce[17];
                int ext = extension_of(i);
                snprintf(uri, sizeof uri, "sip:%07d@127.0.0.1:%d", ext, mwid_port);
                snprintf(cnonce, sizeof cnonce, "%016llx", (unsigned long long)(branch_seed * 2654435761u + (uint64_t)i));
                int t = snprintf(text, sizeof text, "%07d:%.*s:secret", ext, (int)rn, realm);
                md5_hex(text, (size_t)t, ha1);
                t = snprintf(text, sizeof text, "SUBSCRIBE:%s", uri);
                md5_hex(text, (size_t)t, ha2);
                if (auth) t = snprintf(text, sizeof text, "%s:%.*s:00000001:%s:auth:%s", ha1, (int)nn, nonce, cnonce, ha2);
                else t = snprintf(text, sizeof text, "%s:%.*s:%s", ha1, (int)nn, nonce, ha2);
                md5_hex(text, (size_t)t, response);
                char extra[160] = "";
                if (auth) snprintf(extra, sizeof extra, ", qop=auth, nc=00000001, cnonce=\"%s\"", cnonce);
                if (on) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", opaque=\"%.*s\"", (int)on, opaque);
                int w = snprintf(authorization[i], sizeof authorization[0],
                                 "Digest username=\"%07d\", realm=\"%.*s\", nonce=\"%.*s\", uri=\"%s\", response=\"%s\", algorithm=MD5%s",
                                 ext, (int)rn, realm, (int)nn, nonce, uri, response, extra);
                return w > 0 && (size_t)w < sizeof authorization[0];
            }
        }
        p = e + 1;
    }
    return 0;
}

static void finish(int i, int ok) {
    state[i] = 3;
    if (ok) subscribed++; else failed++;
    next();
}

static void on_datagram(const char *in, size_t len, const struct sockaddr_in *from) {
    const char *v;
    size_t n;
    if (len > 8 && memcmp(in, "SIP/2.0 ", 8) != 0) { /* a request: a NOTIFY gets its 200 and is counted */
        if (len > 7 && !memcmp(in, "NOTIFY ", 7)) {
            uint64_t at = now_ns();
            notifies++;
            if (!first_notify) first_notify = at;
            last_notify = at;
            /* The phone: the number in the Request-URI's user part, p<i>. */
            const char *u;
            size_t un;
            if (request_user(in, len, &u, &un) && u && un > 1 && u[0] == 'p') {
                long i = strtol(u + 1, NULL, 10);
                if (i >= 0 && i < count && notified_mark[i] != mark) {
                    notified_mark[i] = mark;
                    phones++;
                    phones_last = at;
                }
            }
        }
        answer_ok(in, len, from);
        return;
    }
    if (len < 12) return;
    int code = atoi(in + 8);
    if (code < 200 || !(n = header_value(in, len, "Call-ID", 'i', &v)) || n < 5 || memcmp(v, "sub-", 4)) return;
    char *end;
    long i = strtol(v + 4, &end, 10);
    if (end == v + 4 || i < 0 || i >= count) return;
    if (code == 401 && (state[i] == 1 || state[i] == 2)) {
        /* The challenge, or a new one (a stale nonce): answered, three times at most. */
        if (challenges[i]++ >= 3 || !answer((int)i, in, len)) { finish((int)i, 0); return; }
        state[i] = 2;
        subscribe((int)i, 0);
    } else if (state[i] == 1 || state[i] == 2) {
        finish((int)i, code < 300);
    }
}

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[1], "subscribe") || (argc > 6 && strcmp(argv[6], "shuffled"))) {
        fprintf(stderr, "usage: subscribe-load subscribe MWID_PORT COUNT WINDOW [FIRST [shuffled]]\n");
        return 2;
    }
    mwid_port = atoi(argv[2]);
    count = atoi(argv[3]);
    window = atoi(argv[4]);
    first = argc > 5 ? atoi(argv[5]) : 0;
    if (mwid_port <= 0 || mwid_port > 65535 || count <= 0 || window <= 0 || first < 0 || first + count > 10000000) {
        fprintf(stderr, "subscribe-load: MWID_PORT 1-65535, COUNT and WINDOW > 0, FIRST+COUNT at most 10000000\n");
        return 2;
    }
    if (argc > 6) /* a stride near COUNT/golden ratio, prime to COUNT: a permutation that scatters */
        for (stride = (long long)(count * 0.6180339887) | 1; gcd(stride, count) != 1; stride += 2) {}
    out_buf = malloc((size_t)OUTGOING * DATAGRAM);
    state = calloc((size_t)count, 1);
    authorization = calloc((size_t)count, sizeof *authorization);
    notified_mark = calloc((size_t)count, sizeof *notified_mark);
    challenges = calloc((size_t)count, 1);
    branches = calloc((size_t)count, sizeof *branches);
    if (!out_buf || !state || !authorization || !notified_mark || !challenges || !branches) { perror("subscribe-load: memory"); return 1; }
    if (!(local_port = open_loopback(8 << 20))) return 1;
    mwid = loopback(mwid_port);
    branch_seed = now_ns() << 16;

    uint64_t start = now_ns(), resend_at = start + 1000000000ull;
    for (int k = 0; k < window; k++) next();
    flush();
    while (subscribed + failed < count) {
        receive(5, on_datagram);
        if (now_ns() > resend_at) { /* UDP may drop: the unanswered again */
            resend_at += 1000000000ull;
            for (int i = 0; i < started; i++) if (state[i] == 1 || state[i] == 2) subscribe(i, 1);
            flush();
        }
    }
    double seconds = (double)(now_ns() - start) / 1e9;
    printf("subscribed %d in %.2f s: %d/s (%d failed)\n", subscribed, seconds, (int)(subscribed / seconds), failed);
    fflush(stdout);

    /* Stay, answering NOTIFYs, until told to quit. */
    char line[64];
    size_t have = 0;
    for (;;) {
        struct pollfd p[2] = {{out_fd, POLLIN, 0}, {0, POLLIN, 0}};
        if (poll(p, 2, 100) < 0 && errno != EINTR) break;
        if (p[0].revents & POLLIN) receive(0, on_datagram);
        if (p[1].revents & (POLLIN | POLLHUP)) {
            ssize_t r = read(0, line + have, sizeof line - 1 - have);
            if (r <= 0) break;
            have += (size_t)r;
            line[have] = 0;
            char *nl;
            int quit = 0;
            while ((nl = strchr(line, '\n'))) {
                *nl = 0;
                if (!strcmp(line, "quit")) quit = 1;
                else if (!strcmp(line, "mark")) notifies = phones = 0, first_notify = last_notify = phones_last = 0, mark++;
                else if (!strcmp(line, "report")) {
                    printf("notifies %ld first_ns %llu last_ns %llu phones %ld phones_last_ns %llu\n", notifies,
                           (unsigned long long)first_notify, (unsigned long long)last_notify, phones,
                           (unsigned long long)phones_last);
                    fflush(stdout);
                }
                have -= (size_t)(nl + 1 - line);
                memmove(line, nl + 1, have + 1);
            }
            if (quit) break;
            if (have >= sizeof line - 1) have = 0; /* a line too long for any command */
        }
    }
    return 0;
}
