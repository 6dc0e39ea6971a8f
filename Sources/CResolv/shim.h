// glibc's stub resolver (libresolv, part of libc6-dev): one DNS query with the record's
// TTL, which getaddrinfo hides. Used by SIPTransport for RFC 3263 SRV and A/AAAA look-ups.
#include <string.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>

enum {
    MWID_DNS_NOT_FOUND = HOST_NOT_FOUND,  // the name does not exist (NXDOMAIN)
    MWID_DNS_TRY_AGAIN = TRY_AGAIN,       // no answer in time, or the server failed
    MWID_DNS_NO_RECOVERY = NO_RECOVERY,   // refused, or a bad name or server
    MWID_DNS_NO_DATA = NO_DATA,           // the name exists without records of that type
};

/// Asks for the records of `rrtype` (class IN) of `name` and writes the answer's bytes
/// to `answer`. `server` (an IPv4 literal) and `port`, when `server` is not NULL, replace
/// the name servers of /etc/resolv.conf. Each server is given `timeout_seconds` and two
/// tries. Returns the answer's length, or -1 with `*error` set to one of the values above.
/// Blocking: call it off any event loop.
static inline int mwid_dns_query(const char *server, int port, const char *name, int rrtype, unsigned char *answer,
                                 int answer_length, int timeout_seconds, int *error) {
    struct __res_state state;
    memset(&state, 0, sizeof state);
    if (res_ninit(&state) != 0) {
        *error = NO_RECOVERY;
        return -1;
    }
    if (server != NULL) {
        struct sockaddr_in address;
        memset(&address, 0, sizeof address);
        address.sin_family = AF_INET;
        address.sin_port = htons((unsigned short)port);
        if (inet_pton(AF_INET, server, &address.sin_addr) != 1) {
            res_nclose(&state);
            *error = NO_RECOVERY;
            return -1;
        }
        state.nsaddr_list[0] = address;
        state.nscount = 1;
    }
    state.retrans = timeout_seconds > 0 ? timeout_seconds : 1;
    state.retry = 2;
    int length = res_nquery(&state, name, ns_c_in, rrtype, answer, answer_length);
    *error = length < 0 ? (state.res_h_errno != 0 ? state.res_h_errno : TRY_AGAIN) : 0;
    res_nclose(&state);
    return length;
}
