#!/usr/bin/env python3
"""One keep-alive HTTP connection, one request at a time: the round trip of GET /healthz,
GET a mailbox and POST a voice message on a running mwid, back to back and after a pause
(the floor under the deposit → NOTIFY latency of issue 5).

  bench/tools/http-latency.py HTTP_PORT TOKEN [COUNT] [PAUSE_SECONDS]

Mailboxes user0000000… must exist (bench/mwi/populate.py). Prints p50 and p90 in µs.
"""
import socket, sys, time

port, token = int(sys.argv[1]), sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 500
pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.002
conn = socket.create_connection(("127.0.0.1", port))
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def exchange(request):
    conn.sendall(request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += conn.recv(65536)
    return head.split(b" ")[1].decode()


def measure(name, make, gap):
    times = []
    status = "?"
    for i in range(count):
        start = time.perf_counter()
        status = exchange(make(i))
        times.append((time.perf_counter() - start) * 1e6)
        if gap:
            time.sleep(gap)
    times.sort()
    print(f"{name:<40} pause {gap * 1000:4.1f} ms: p50 {times[count // 2]:6.0f} µs  p90 {times[int(count * 0.9)]:6.0f} µs  ({status})")


body = '{"from":"+33142685300","durationSeconds":12}'
auth = f"Authorization: Bearer {token}\r\n"
requests = [
    ("GET /healthz", lambda i: "GET /healthz HTTP/1.1\r\nHost: mwid\r\n\r\n"),
    ("GET /api/v1/mailboxes/ID", lambda i: f"GET /api/v1/mailboxes/user{i:07d} HTTP/1.1\r\nHost: mwid\r\n{auth}\r\n"),
    ("POST /api/v1/mailboxes/ID/messages", lambda i: f"POST /api/v1/mailboxes/user{i + 2 * count:07d}/messages HTTP/1.1\r\n"
        f"Host: mwid\r\n{auth}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}"),
]
for gap in (0, pause):
    for name, make in requests:
        measure(name, make, gap)
