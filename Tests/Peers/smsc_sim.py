#!/usr/bin/env python3
"""Loopback SMSC simulator built on the PyPI package `smpp34` (Rust-backed SMPP 3.4 server).
mwid's copy of the recipe in shared/peers/smpp, with two additions for its tests: a
concatenated part's user data header is logged apart (`udh`, hex) and left out of `text`,
and `--throttle-first N` answers the first N submits ESME_RTHROTTLED.

  python smsc_sim.py [--port 2775] [--run-for 60] [--log smsc.jsonl] [--throttle-first N] [--quiet]

* accepts any bind (smpp34's Python Server exposes no bind-auth hook)
* every submit_sm is logged as one JSON line (stdout and --log), then:
    destination starting with 999 -> reject ESME_RINVDSTADR
    destination starting with 998 -> reject ESME_RTHROTTLED
    otherwise accept with message_id "m<N>" and, if registered_delivery & 1,
    push a delivery receipt (deliver_sm, esm_class 0x04, stat:DELIVRD) to the ESME
* exits by itself after --run-for seconds (never left running by accident).
Listens on 127.0.0.1 only.
"""
import argparse, asyncio, json, sys, time
import smpp34

# GSM 03.38 default alphabet (unpacked septets, as SMPP carries them) + extension table
GSM_BASIC = ("@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"
             "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\x1b\u00c6\u00e6\u00df\u00c9"
             " !\"#\u00a4%&'()*+,-./0123456789:;<=>?"
             "\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"
             "\u00bfabcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0")
GSM_EXT = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~",
           0x3E: "]", 0x40: "|", 0x65: "\u20ac"}

def decode_text(data_coding, raw):
    try:
        if data_coding == 8:
            return raw.decode("utf-16-be")
        if data_coding in (3, 4):
            return raw.decode("latin-1")
        out, esc = [], False
        for b in raw:
            if esc:
                out.append(GSM_EXT.get(b, "?")); esc = False
            elif b == 0x1B:
                esc = True
            else:
                out.append(GSM_BASIC[b] if b < 128 else "?")
        return "".join(out)
    except Exception:
        return raw.hex()

async def main(a):
    server = smpp34.Server(host="127.0.0.1", port=a.port, system_id="SIMSMSC")
    await server.start()
    out = open(a.log, "a") if a.log else None
    def log(**kw):
        kw["ts"] = round(time.time(), 3)
        line = json.dumps(kw)
        print(line, flush=True)
        if out:
            out.write(line + "\n"); out.flush()
    log(event="listening", host="127.0.0.1", port=a.port)
    sessions, n, throttled = {}, 0, 0
    deadline = time.monotonic() + a.run_for
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            ev = await asyncio.wait_for(server.next(), timeout=left)
        except asyncio.TimeoutError:
            break
        if isinstance(ev, smpp34.Esme):
            sessions[ev.session_id] = ev
            log(event="bind", system_id=ev.system_id, session=ev.session_id, can_receive=ev.can_receive)
        elif isinstance(ev, smpp34.Unbound):
            sessions.pop(ev.session_id, None)
            log(event="unbind", session=ev.session_id)
        elif isinstance(ev, smpp34.SubmitSmEvent):
            dst = ev.destination_addr
            raw, udh = bytes(ev.short_message), b""
            if ev.esm_class & 0x40 and raw:
                udh, raw = raw[:raw[0] + 1], raw[raw[0] + 1:]
            text = decode_text(ev.data_coding, raw)
            rec = dict(event="submit_sm", session=ev.session_id, src=ev.source_addr, dst=dst,
                       data_coding=ev.data_coding, esm_class=ev.esm_class,
                       registered_delivery=ev.registered_delivery, text=text, udh=udh.hex(),
                       tlvs={hex(t.tag): t.value.hex() for t in ev.tlvs})
            if dst.startswith("999"):
                ev.reject(smpp34.ESME_RINVDSTADR); log(result="reject", status="ESME_RINVDSTADR", **rec); continue
            if throttled < a.throttle_first:
                throttled += 1
                ev.reject(smpp34.ESME_RTHROTTLED); log(result="reject", status="ESME_RTHROTTLED", **rec); continue
            if dst.startswith("998"):
                ev.reject(smpp34.ESME_RTHROTTLED); log(result="reject", status="ESME_RTHROTTLED", **rec); continue
            n += 1
            mid = "m%d" % n
            ev.accept(message_id=mid)
            if not a.quiet:
                log(result="accept", message_id=mid, **rec)
            esme = sessions.get(ev.session_id)
            if ev.registered_delivery & 1 and esme is not None and esme.can_receive:
                d = time.strftime("%y%m%d%H%M")
                receipt = ("id:%s sub:001 dlvrd:001 submit date:%s done date:%s stat:DELIVRD err:000 text:%s"
                           % (mid, d, d, text[:20])).encode()
                r = await esme.deliver_sm(ev.source_addr, receipt, source_addr=dst, esm_class=0x04)
                log(event="dlr_sent", message_id=mid, resp_ok=r.is_success)
    log(event="stopping", accepted=n)
    await server.stop()

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=2775)
    p.add_argument("--run-for", type=float, default=60.0)
    p.add_argument("--log")
    p.add_argument("--quiet", action="store_true", help="do not log accepted submits (benchmarks)")
    p.add_argument("--throttle-first", type=int, default=0, help="answer the first N submits ESME_RTHROTTLED")
    asyncio.run(main(p.parse_args()))
