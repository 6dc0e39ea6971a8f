/*
 * deposit-latency: deposit → NOTIFY on the wire, measured by one process that is both the
 * REST client depositing voice messages into mwid and the SIP gateway receiving the
 * NOTIFYs (answering 200), so that both instants come from one clock.
 *
 *   deposit-latency HTTP_PORT TOKEN SIP_PORT RATE SECONDS MAILBOXES [CONNECTIONS]
 *
 * Deposit k (k = 0, 1, …) goes to mailbox user%07d (k % MAILBOXES), one every 1/RATE s
 * over CONNECTIONS keep-alive HTTP connections (default 4). The NOTIFY for extension
 * %07d is matched to the deposit that lit it. Prints one line of results:
 *   deposits D notifies N lost L deposit_p50_us … notify_p50_us … notify_p99_us … notify_p999_us … notify_max_us …
 * where deposit_* is request → 201 and notify_* is request sent → NOTIFY received.
 *
 * Build: cc -O2 -o deposit-latency deposit-latency.c -lm
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN 64
#define BUF 65536

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

struct conn {
    int fd;
    int busy;
    long index;       /* the deposit in flight */
    char in[BUF];
    size_t have;
};

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, double p) {
    if (!n) return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

/* The 200 OK for a request datagram (Via, From, To, Call-ID, CSeq copied). */
static size_t answer(const char *in, size_t len, char *out) {
    size_t o = 0;
    memcpy(out, "SIP/2.0 200 OK\r\n", 16);
    o = 16;
    const char *p = memchr(in, '\n', len), *end = in + len;
    if (!p) return 0;
    p++;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) break;
        size_t n = (size_t)(e - p) + 1, content = n - 1 - (n >= 2 && p[n - 2] == '\r');
        if (!content) break;
        if (!strncasecmp(p, "Via:", 4) || !strncasecmp(p, "From:", 5) || !strncasecmp(p, "To:", 3) ||
            !strncasecmp(p, "Call-ID:", 8) || !strncasecmp(p, "CSeq:", 5)) {
            memcpy(out + o, p, content);
            o += content;
            if (!strncasecmp(p, "To:", 3) && !memmem(p, content, ";tag=", 5)) { memcpy(out + o, ";tag=l1", 7); o += 7; }
            memcpy(out + o, "\r\n", 2);
            o += 2;
        }
        p = e + 1;
    }
    memcpy(out + o, "Content-Length: 0\r\n\r\n", 21);
    return o + 21;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: deposit-latency HTTP_PORT TOKEN SIP_PORT RATE SECONDS MAILBOXES [CONNECTIONS]\n");
        return 2;
    }
    int http_port = atoi(argv[1]), sip_port = atoi(argv[3]);
    const char *token = argv[2];
    double rate = atof(argv[4]), seconds = atof(argv[5]);
    long mailboxes = atol(argv[6]);
    int nconn = argc > 7 ? atoi(argv[7]) : 4;
    if (nconn < 1 || nconn > MAXCONN) nconn = 4;
    long total = (long)(rate * seconds);
    uint64_t *sent = calloc((size_t)total, sizeof *sent), *created = calloc((size_t)total, sizeof *created);
    uint64_t *notified = calloc((size_t)total, sizeof *notified);
    /* Which deposit lit mailbox m last (so that its NOTIFY is matched). */
    long *latest = malloc(sizeof(long) * (size_t)mailboxes);
    for (long m = 0; m < mailboxes; m++) latest[m] = -1;

    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sip_port)};
    sa.sin_addr.s_addr = inet_addr("127.0.0.1");
    if (bind(udp, (struct sockaddr *)&sa, sizeof sa)) { perror("bind"); return 1; }
    struct conn conns[MAXCONN];
    for (int c = 0; c < nconn; c++) {
        conns[c] = (struct conn){.fd = socket(AF_INET, SOCK_STREAM, 0)};
        struct sockaddr_in ha = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port)};
        ha.sin_addr.s_addr = inet_addr("127.0.0.1");
        if (connect(conns[c].fd, (struct sockaddr *)&ha, sizeof ha)) { perror("connect"); return 1; }
        int one = 1;
        setsockopt(conns[c].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    const char *body = "{\"from\":\"+33142685300\",\"durationSeconds\":12}";
    long next = 0, done = 0, notifies = 0, errors = 0;
    uint64_t start = now_ns(), interval = (uint64_t)(1e9 / rate);
    uint64_t deadline = start + (uint64_t)((seconds + 10) * 1e9);
    char dgram[BUF], reply[BUF], request[1024];
    while (now_ns() < deadline) {
        uint64_t t = now_ns();
        /* Send what is due, on an idle connection. */
        while (next < total && t >= start + (uint64_t)next * interval) {
            int c = -1;
            for (int i = 0; i < nconn; i++) if (!conns[i].busy) { c = i; break; }
            if (c < 0) break;
            long m = next % mailboxes;
            int n = snprintf(request, sizeof request,
                             "POST /api/v1/mailboxes/user%07ld/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                             m, token, strlen(body), body);
            latest[m] = next;
            sent[next] = now_ns();
            if (write(conns[c].fd, request, (size_t)n) != n) { perror("write"); return 1; }
            conns[c].busy = 1;
            conns[c].index = next;
            conns[c].have = 0;
            next++;
        }
        if (next >= total && done >= total && notifies >= total) break;
        struct pollfd fds[MAXCONN + 1];
        fds[0] = (struct pollfd){.fd = udp, .events = POLLIN};
        for (int i = 0; i < nconn; i++) fds[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        uint64_t due = start + (uint64_t)next * interval, now = now_ns();
        /* Sleep until the next deposit is due, to the nanosecond (poll's milliseconds
         * would spin for the last one: a core taken from mwid at 1000/s). */
        uint64_t wait_ns = next < total ? (due > now ? due - now : 0) : 100000000ull;
        struct timespec wait = {.tv_sec = (time_t)(wait_ns / 1000000000ull), .tv_nsec = (long)(wait_ns % 1000000000ull)};
        if (ppoll(fds, (nfds_t)(nconn + 1), &wait, NULL) <= 0) continue;
        if (fds[0].revents & POLLIN) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n;
            while ((n = recvfrom(udp, dgram, sizeof dgram - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) > 0) {
                uint64_t at = now_ns();
                dgram[n] = 0;
                if (strncmp(dgram, "SIP/2.0", 7) == 0) continue;
                /* Request-URI sip:0001234@… */
                const char *colon = strchr(dgram, ':');
                if (colon && !strncmp(dgram, "NOTIFY", 6)) {
                    long m = strtol(colon + 1, NULL, 10);
                    if (m >= 0 && m < mailboxes && latest[m] >= 0 && !notified[latest[m]]) {
                        notified[latest[m]] = at;
                        notifies++;
                    }
                }
                size_t r = answer(dgram, (size_t)n, reply);
                if (r) sendto(udp, reply, r, 0, (struct sockaddr *)&from, fl);
                fl = sizeof from;
            }
        }
        for (int i = 0; i < nconn; i++) {
            if (!(fds[i + 1].revents & POLLIN)) continue;
            struct conn *k = &conns[i];
            ssize_t n = read(k->fd, k->in + k->have, sizeof k->in - k->have - 1);
            if (n <= 0) { fprintf(stderr, "connection closed by mwid\n"); return 1; }
            k->have += (size_t)n;
            k->in[k->have] = 0;
            char *head_end = strstr(k->in, "\r\n\r\n");
            if (!head_end) continue;
            char *cl = strcasestr(k->in, "Content-Length:");
            size_t length = cl && cl < head_end ? (size_t)atol(cl + 15) : 0;
            if (k->have < (size_t)(head_end + 4 - k->in) + length) continue;
            if (strncmp(k->in, "HTTP/1.1 201", 12) != 0) errors++;
            created[k->index] = now_ns();
            k->busy = 0;
            k->have = 0;
            done++;
        }
    }
    uint64_t *dl = malloc(sizeof *dl * (size_t)total), *nl = malloc(sizeof *nl * (size_t)total);
    size_t nd = 0, nn = 0;
    for (long k = 0; k < next; k++) {
        if (created[k]) dl[nd++] = created[k] - sent[k];
        if (notified[k]) nl[nn++] = notified[k] - sent[k];
    }
    qsort(dl, nd, sizeof *dl, cmp);
    qsort(nl, nn, sizeof *nl, cmp);
    double elapsed = (double)(now_ns() - start) / 1e9;
    printf("deposits %ld refused %ld notifies %zu lost %ld rate %.0f deposit_p50_us %.0f deposit_p99_us %.0f "
           "notify_p50_us %.0f notify_p99_us %.0f notify_p999_us %.0f notify_max_us %.0f elapsed_s %.1f\n",
           done, errors, nn, next - (long)nn, (double)done / elapsed, pct(dl, nd, 0.5) / 1e3, pct(dl, nd, 0.99) / 1e3,
           pct(nl, nn, 0.5) / 1e3, pct(nl, nn, 0.99) / 1e3, pct(nl, nn, 0.999) / 1e3, nn ? nl[nn - 1] / 1e3 : 0, elapsed);
    return 0;
}
