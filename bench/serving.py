"""Online serving: latency of one transaction over HTTP against the model's own cost.

A small trained platform is built in the scratch folder (``devtools.trained_platform``),
its champion packaged and its Bento built exactly as ``deploy_model`` does, and the Bento
served as a separate process with prediction capture on (the production path). Then:

* **sequential**: a keep-alive client *in another process* sends one transaction per
  request (the online feature lookup included); p50 and p99;
* **in-process**: the same model's ``predict`` on one row, in this process; p99;
* **concurrent**: 16 client threads in another process for a fixed time: throughput and
  every non-200 (errors, 429s);
* the service's start-up (process start to ``/readyz`` 200) and its memory (RSS of the
  whole process tree).

Targets (docs/performance-anchors.md): p99 ≤ 5 ms, ≤ 8× the in-process p99, zero errors at
16 concurrent clients. ``python -m bench.serving --client ...`` is the client process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Figure, fmt


def _pct(values: list[int], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(q * len(values) + 0.999999) - 1))] / 1e9


# ------------------------------------------------------------------------------ clients
def _connection(url: str) -> Any:
    import http.client
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)


def sequential_client(url: str, token: str, payload: bytes, n: int, warmup: int) -> dict:
    conn = _connection(url)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    samples, errors = [], 0
    for i in range(warmup + n):
        start = time.perf_counter_ns()
        conn.request("POST", "/predict", payload, headers)
        resp = conn.getresponse()
        resp.read()
        if i >= warmup:
            samples.append(time.perf_counter_ns() - start)
            errors += resp.status != 200
    return {
        "requests": n,
        "errors": errors,
        "p50_s": _pct(samples, 0.50),
        "p99_s": _pct(samples, 0.99),
        "max_s": max(samples) / 1e9,
    }


def concurrent_client(url: str, token: str, payload: bytes, clients: int, seconds: float) -> dict:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    counts: list[dict[int, int]] = [{} for _ in range(clients)]
    failures: list[int] = [0] * clients
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        conn = _connection(url)
        while time.monotonic() < stop:
            try:
                conn.request("POST", "/predict", payload, headers)
                resp = conn.getresponse()
                resp.read()
                counts[i][resp.status] = counts[i].get(resp.status, 0) + 1
            except OSError:
                failures[i] += 1
                conn.close()
                conn = _connection(url)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    by_status: dict[str, int] = {}
    for c in counts:
        for code, n in c.items():
            by_status[str(code)] = by_status.get(str(code), 0) + n
    ok = by_status.get("200", 0)
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "by_status": by_status,
        "connection_failures": sum(failures),
        "errors": sum(n for code, n in by_status.items() if code != "200") + sum(failures),
        "requests_per_s": ok / elapsed,
    }


def _client_process(kind: str, url: str, token: str, payload: bytes, **opts: Any) -> dict:
    """Run a client in a fresh interpreter: its CPU time is not this process's."""
    args = {"kind": kind, "url": url, "token": token, "payload": payload.decode(), **opts}
    out = subprocess.run(
        [sys.executable, "-m", "bench.serving", "--client", json.dumps(args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _client_main(raw: str) -> None:
    a = json.loads(raw)
    payload = a["payload"].encode()
    if a["kind"] == "sequential":
        print(json.dumps(sequential_client(a["url"], a["token"], payload, a["n"], a["warmup"])))
    else:
        print(
            json.dumps(concurrent_client(a["url"], a["token"], payload, a["clients"], a["seconds"]))
        )


# ------------------------------------------------------------------------------ section
def _tree_rss_mb(pid: int) -> float:
    """RSS of ``pid`` and every descendant (BentoML serves from child processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _in_process_p99(model_tag: str, features: dict[str, float], n: int) -> dict[str, float]:
    import numpy as np

    from serving import model as served

    m = served.load(model_tag)
    x = np.asarray([[features.get(f, np.nan) for f in m.feature_names]], dtype=np.float32)
    for _ in range(200):
        m.predict(x)
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        m.predict(x)
        samples.append(time.perf_counter_ns() - start)
    return {"p50_s": _pct(samples, 0.5), "p99_s": _pct(samples, 0.99)}


def run(quick: bool) -> dict[str, Any]:
    from devtools.trained_platform import build_platform
    from include.deployment import candidate, checks, package

    n = 1000 if quick else 3000
    seconds = 5.0 if quick else 15.0
    print(f"\n== Serving: online latency and throughput ({'quick' if quick else 'default'}) ==")
    scratch = Path(os.environ.get("MLOPS_DATA_ROOT") or tempfile.mkdtemp()).parent / "serving"
    t0 = time.perf_counter()
    platform = build_platform(scratch / "data")
    os.environ.update(platform.env())
    os.environ["BENTOML_HOME"] = str(scratch / "bentoml")
    trained_s = time.perf_counter() - t0
    print(f"  platform trained in {trained_s:.0f} s (champion v{platform.champion_version})")
    target = package.resolve(None)
    t0 = time.perf_counter()
    packaged = package.package(target)
    build_s = time.perf_counter() - t0
    tx = checks.golden_requests(rows=1)[0]
    payload = json.dumps({"transactions": [tx]}).encode()
    with candidate.serve(packaged["bento_tag"], scratch / "logs", capture=True) as cand:
        seq = _client_process("sequential", cand.url, cand.token, payload, n=n, warmup=200)
        conc = _client_process(
            "concurrent", cand.url, cand.token, payload, clients=16, seconds=seconds
        )
        rss = _tree_rss_mb(cand.pid)
        # the features the service used for this transaction (its capture is async: ask it)
        import httpx

        answer = httpx.post(
            f"{cand.url}/predict",
            json={"transactions": [tx]},
            headers={"Authorization": f"Bearer {cand.token}"},
        ).json()
    import pandas as pd

    from include.features.store import feature_spec_from
    from include.features.training_set import online_features

    event_ts = feature_spec_from().event_ts  # the platform's spec (its env is applied)
    row = {**tx, event_ts: pd.Timestamp(tx[event_ts]).to_pydatetime()}
    feats = {k: v[0] for k, v in online_features([row]).items()}
    feats = {k: float(v) for k, v in feats.items() if isinstance(v, int | float)}
    inproc = _in_process_p99(packaged["model_tag"], feats, n)
    ratio = seq["p99_s"] / inproc["p99_s"] if inproc["p99_s"] else float("nan")
    print(
        f"  Bento built in {build_s:.1f} s; service ready after {cand.startup_s:.1f} s, "
        f"RSS {rss:.0f} MB; answer v{answer['model']['version']}"
    )
    print(
        f"  sequential keep-alive, {n} requests: p50 {fmt(seq['p50_s'], 's')}, "
        f"p99 {fmt(seq['p99_s'], 's')} (errors {seq['errors']}); in-process predict p99 "
        f"{inproc['p99_s'] * 1e6:.0f} µs → {ratio:.1f}x"
    )
    print(
        f"  16 concurrent clients, {conc['seconds']} s: {conc['requests_per_s']:.0f} req/s, "
        f"statuses {conc['by_status']}, connection failures {conc['connection_failures']}"
    )
    figures = [
        Figure("serving", "online p99, one transaction", seq["p99_s"], "s", 0.005),
        Figure("serving", "online p99 / in-process p99", ratio, "x", 8.0),
        Figure("serving", "errors at 16 concurrent", float(conc["errors"]), "x", 0.0),
        Figure("serving", "throughput at 16 concurrent", conc["requests_per_s"], "rows/s"),
        Figure("serving", "service start-up to ready", cand.startup_s, "s"),
    ]
    return {
        "figures": figures,
        "sequential": seq,
        "concurrent": conc,
        "in_process": inproc,
        "startup_s": cand.startup_s,
        "rss_mb": rss,
        "bento_build_s": build_s,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.serving")
    parser.add_argument("--client", help="internal: run a client with these JSON args")
    parser.add_argument("--quick", action="store_true")
    ns = parser.parse_args()
    if ns.client:
        _client_main(ns.client)
    else:
        from bench.common import apply_env, isolated_env

        with tempfile.TemporaryDirectory(prefix="mlops-bench-serving-") as tmp:
            apply_env(isolated_env(Path(tmp)))
            result = run(ns.quick)
            for f in result["figures"]:
                print(
                    f"  {f.name}: {fmt(f.value, f.unit)}"
                    + (f" (target {f.target})" if f.target is not None else "")
                )
