"""Creates the benchmark's directory through the REST API: dial plan Bench (7 digits),
policy Default, gateway pbx1, and COUNT mailboxes user0000000… Usage: setup.py URL TOKEN COUNT"""
import http.client, json, sys, concurrent.futures, urllib.parse
url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
host = urllib.parse.urlparse(url)

def post(conn, path, body):
    conn.request("POST", "/api/v1" + path, json.dumps(body),
                 {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = conn.getresponse(); data = r.read()
    if r.status not in (201, 409):
        sys.exit(f"{path}: HTTP {r.status} {data!r}")

c = http.client.HTTPConnection(host.hostname, host.port)
post(c, "/dialplans", {"name": "Bench", "numberOfDigitsInExtension": 7})
post(c, "/policies", {"name": "Default", "dialPlan": "Bench"})
post(c, "/gateways", {"name": "pbx1", "address": "127.0.0.1", "dialPlans": ["Bench"], "transport": "udp"})

def chunk(start):
    conn = http.client.HTTPConnection(host.hostname, host.port)
    for i in range(start, min(start + 250, count)):
        post(conn, "/mailboxes", {"identity": f"user{i:07d}", "extension": f"{i:07d}", "dialPlan": "Bench", "policy": "Default"})
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(chunk, range(0, count, 250)))
