#!/usr/bin/env python3
"""The comparison point: an HTTP probe loop as a Python chaos tool runs it (Chaos Toolkit's http probe
is a `requests` call per sample). Chaos Toolkit itself is on PyPI, which this machine cannot reach.
Prints one start timestamp (CLOCK_MONOTONIC, ms) per sample."""
import sys, time
try:
    import requests
    def get(url, timeout):
        return requests.get(url, timeout=timeout).status_code
    backend = "requests"
except ImportError:
    import urllib.request
    def get(url, timeout):
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    backend = "urllib"

url, interval_ms, duration_ms = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
print("backend", backend, flush=True)
start = time.monotonic()
next_at = start
while (time.monotonic() - start) * 1000 < duration_ms:
    t = time.monotonic()
    try:
        get(url, 1.0)
    except Exception:
        pass
    print("%.3f" % (t * 1000), flush=True)
    next_at += interval_ms / 1000
    now = time.monotonic()
    if next_at > now:
        time.sleep(next_at - now)
    else:
        next_at = now
