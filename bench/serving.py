"""Online serving: latency and throughput over HTTP, next to the model's own cost and a floor.

A small trained platform is built in the scratch folder (``devtools.trained_platform``),
its champion packaged and its Bento built exactly as ``deploy_model`` does, and the Bento
served as a separate process with prediction capture on (the production path) and
``MLOPS_SERVING_TIMING=true`` (each answer says how long each of its steps took). Beside it,
in the same run, the floor: BentoML's plain hello world (``bench/serving_floor.py``) served
the same way. Both are called by the same clients, each *in another process*:

* **sequential**: one keep-alive connection, one request at a time, each one real
  transaction of the newest validated day (online features included), cycling through
  them; p50 and p99 after 200 warm-up requests, and the server's CPU per request (its
  process tree's user + system time over the run);
* **concurrent**: 16 client threads for a fixed time: requests/s and every non-200;
* **steps**: the service's ``Server-Timing`` per step (auth, read, validate, yield,
  pseudonymise, lookup, predict, respond, metrics, capture, encode), p50 and p99;
* **in-process**: the same model's ``predict`` on one row (the service's call), here.

Targets (docs/performance-anchors.md): p99 ≤ 2 ms and ≤ 5× the in-process predict p99,
≥ 1,000 requests/s with zero errors at 16 concurrent clients.

``python -m bench.serving --live`` measures a running service instead (``make run``'s, with
``scripts/embedded_env.sh`` sourced: its URL, its token, transactions from its lake); its
requests are marked synthetic so monitoring never sees them (nothing is captured).
``python -m bench.serving --client -`` is the client process (its arguments on stdin).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Figure, fmt

TARGET_P99_S = 0.002
TARGET_RATIO = 5.0
TARGET_RPS = 1000.0
CLIENTS = 16
WARMUP = 200
TRANSACTIONS = 50  # distinct real transactions the clients cycle through
FLOOR_TARGET = "bench.serving_floor:HelloFloor"
FLOOR_PATH = "/hello"
FLOOR_PAYLOAD = b'{"name": "world"}'


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(q * len(values) + 0.999999) - 1))]


# ------------------------------------------------------------------------------ clients
def _connection(url: str) -> Any:
    import http.client
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)


def _headers(token: str, synthetic: bool) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if synthetic:  # a deployment canary's header: answered, never captured
        headers["X-MLOps-Synthetic"] = "bench"
    return headers


def _server_timing(value: str, into: dict[str, list[float]]) -> None:
    for part in value.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            into.setdefault(name, []).append(float(dur) / 1e3)


def sequential_client(
    url: str,
    token: str,
    payloads: list[bytes],
    n: int,
    warmup: int,
    path: str = "/predict",
    synthetic: bool = False,
) -> dict:
    """``warmup + n`` requests on one keep-alive connection, cycling through ``payloads``."""
    conn = _connection(url)
    headers = _headers(token, synthetic)
    samples: list[float] = []
    steps: dict[str, list[float]] = {}
    errors = 0
    for i in range(warmup + n):
        start = time.perf_counter_ns()
        conn.request("POST", path, payloads[i % len(payloads)], headers)
        resp = conn.getresponse()
        resp.read()
        if i >= warmup:
            samples.append((time.perf_counter_ns() - start) / 1e9)
            errors += resp.status != 200
            if timing := resp.getheader("Server-Timing"):
                _server_timing(timing, steps)
    return {"errors": errors, "samples_s": samples, "steps_s": steps}


def concurrent_client(
    url: str,
    token: str,
    payloads: list[bytes],
    clients: int,
    seconds: float,
    path: str = "/predict",
    synthetic: bool = False,
) -> dict:
    """``clients`` threads, each on its own keep-alive connection, for ``seconds``."""
    headers = _headers(token, synthetic)
    counts: list[dict[int, int]] = [{} for _ in range(clients)]
    failures: list[int] = [0] * clients
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        conn = _connection(url)
        k = i
        while time.monotonic() < stop:
            try:
                conn.request("POST", path, payloads[k % len(payloads)], headers)
                resp = conn.getresponse()
                resp.read()
                counts[i][resp.status] = counts[i].get(resp.status, 0) + 1
            except OSError:
                failures[i] += 1
                conn.close()
                conn = _connection(url)
            k += 1

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


def _client_process(kind: str, url: str, token: str, payloads: list[bytes], **opts: Any) -> dict:
    """Run a client in a fresh interpreter: its CPU time is not this process's."""
    args = {"kind": kind, "url": url, "token": token, **opts}
    args["payloads"] = [p.decode() for p in payloads]
    out = subprocess.run(
        [sys.executable, "-m", "bench.serving", "--client", "-"],
        cwd=REPO_ROOT,
        input=json.dumps(args),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _client_main(raw: str) -> None:
    a = json.loads(sys.stdin.read() if raw == "-" else raw)
    payloads = [p.encode() for p in a["payloads"]]
    common = {"path": a.get("path", "/predict"), "synthetic": a.get("synthetic", False)}
    if a["kind"] == "sequential":
        out = sequential_client(a["url"], a["token"], payloads, a["n"], a["warmup"], **common)
    else:
        out = concurrent_client(
            a["url"], a["token"], payloads, a["clients"], a["seconds"], **common
        )
    print(json.dumps(out))


# ---------------------------------------------------------------------- served processes
def _tree(pid: int) -> list[int]:
    """``pid`` and every descendant (BentoML serves from child processes, circus starts
    each worker in a session of its own)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _tree_rss_mb(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid``'s process tree so far."""
    ticks = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def _serve_floor(log_dir: Path) -> Iterator[tuple[str, int, float]]:
    """BentoML's hello world (``bench/serving_floor.py``) served like the scoring service;
    yields its URL, pid and start-up seconds. Stopped with its workers at the end."""
    from include.deployment.candidate import bentoml_cli, free_port
    from include.deployment.http import wait_ready

    home = tempfile.mkdtemp(prefix="mlops-bench-floor-")  # bentoml serve wipes its metrics dir
    env = {**os.environ, "BENTOML_HOME": home, "BENTOML_DO_NOT_TRACK": "true"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"floor-{port}.log", "wb") as log:
        proc = subprocess.Popen(
            [bentoml_cli(), "serve", FLOOR_TARGET, "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield url, proc.pid, wait_ready(url, 120, proc=proc)
    finally:
        started = _tree(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        for p in started:  # what SIGTERM left (workers in sessions of their own)
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


@dataclass(frozen=True)
class Served:
    """A served endpoint the clients call: where, how, and its process (if local)."""

    name: str
    url: str
    token: str
    payloads: list[bytes]
    path: str = "/predict"
    pid: int | None = None
    synthetic: bool = False


def measure(
    targets: list[Served],
    *,
    n: int,
    seconds: float,
    rounds: int,
    model: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """The sequential, then the concurrent client against each target, interleaved in
    ``rounds`` short blocks (target A, B, A, B, ...) so that a change in the machine's load
    hits every target alike; ``model`` (a served model and its feature rows): a block of
    in-process predicts after each sequential round, the same way. Per target: latency
    percentiles over all its blocks, the steps its ``Server-Timing`` reports, its process
    tree's CPU per request and RSS (with a ``pid``), its garbage collector's work (when
    ``/status`` reports it), then requests/s and statuses at 16 clients."""
    local: list[float] = []
    seq: dict[str, dict[str, Any]] = {
        t.name: {"errors": 0, "samples_s": [], "steps_s": {}, "cpu_s": 0.0, "gc": []}
        for t in targets
    }
    for r in range(rounds):
        for t in targets:
            opts = {"path": t.path, "synthetic": t.synthetic}
            warmup = WARMUP if r == 0 else WARMUP // 4
            gc0, cpu0 = _gc_status(t.url), _tree_cpu_s(t.pid) if t.pid else 0.0
            out = _client_process(
                "sequential", t.url, t.token, t.payloads, n=n // rounds, warmup=warmup, **opts
            )
            acc = seq[t.name]
            acc["cpu_s"] += (_tree_cpu_s(t.pid) - cpu0) if t.pid else 0.0
            acc["requests"] = acc.get("requests", 0) + n // rounds + warmup
            if (gc1 := _gc_status(t.url)) and gc0:
                acc["gc"].append((gc0, gc1))
            acc["errors"] += out["errors"]
            acc["samples_s"] += out["samples_s"]
            for step, values in out["steps_s"].items():
                acc["steps_s"].setdefault(step, []).extend(values)
        if model is not None:
            local += _in_process(*model, n // rounds)
    conc: dict[str, dict[str, Any]] = {
        t.name: {"elapsed_s": 0.0, "by_status": {}, "connection_failures": 0} for t in targets
    }
    for _ in range(rounds):
        for t in targets:
            opts = {"path": t.path, "synthetic": t.synthetic}
            block = {"clients": CLIENTS, "seconds": seconds / rounds, **opts}
            out = _client_process("concurrent", t.url, t.token, t.payloads, **block)
            acc = conc[t.name]
            acc["elapsed_s"] += out["seconds"]
            acc["connection_failures"] += out["connection_failures"]
            for code, count in out["by_status"].items():
                acc["by_status"][code] = acc["by_status"].get(code, 0) + count
    out = {t.name: _summary(t, seq[t.name], conc[t.name]) for t in targets}
    if local:
        out["in_process"] = {"p50_s": _pct(local, 0.5), "p99_s": _pct(local, 0.99)}
    return out


def _summary(t: Served, seq: dict[str, Any], conc: dict[str, Any]) -> dict[str, Any]:
    samples = seq["samples_s"]
    gc = None
    if seq["gc"]:
        gc = {
            "collections": [
                sum(b["collections"][g] - a["collections"][g] for a, b in seq["gc"])
                for g in range(3)
            ],
            "pause_ms_total": [
                round(sum(b["pause_ms_total"][g] - a["pause_ms_total"][g] for a, b in seq["gc"]), 2)
                for g in range(3)
            ],
            "pause_ms_max_since_start": seq["gc"][-1][1]["pause_ms_max"],
        }
    ok = conc["by_status"].get("200", 0)
    errors = sum(v for k, v in conc["by_status"].items() if k != "200")
    return {
        "sequential": {
            "requests": len(samples),
            "errors": seq["errors"],
            "p50_s": _pct(samples, 0.50),
            "p99_s": _pct(samples, 0.99),
            "max_s": max(samples),
            "steps": {
                step: {"p50_s": _pct(v, 0.50), "p99_s": _pct(v, 0.99)}
                for step, v in seq["steps_s"].items()
            },
        },
        "concurrent": {
            "clients": CLIENTS,
            "seconds": round(conc["elapsed_s"], 2),
            "by_status": conc["by_status"],
            "connection_failures": conc["connection_failures"],
            "errors": errors + conc["connection_failures"],
            "requests_per_s": ok / conc["elapsed_s"] if conc["elapsed_s"] else 0.0,
        },
        "cpu_per_request_s": seq["cpu_s"] / seq["requests"] if t.pid else None,
        "rss_mb": _tree_rss_mb(t.pid) if t.pid else None,
        "gc": gc,
    }


def _gc_status(url: str) -> dict[str, Any] | None:
    """The scoring service's garbage-collector counters (``/status``), None elsewhere."""
    import httpx

    try:
        resp = httpx.get(f"{url}/status", timeout=5)
        return resp.json().get("gc") if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None


# ---------------------------------------------------------------------------- in-process
def _model_rows(model_tag: str, transactions: list[dict]) -> tuple[Any, Any]:
    """The served model and the feature rows the service scores for ``transactions``:
    the contract's parse, pii pseudonymised, the online reader (no Feast)."""
    from include.spec import load_spec
    from serving import contract, online
    from serving import model as served

    spec = load_spec()
    body = json.dumps({"transactions": transactions})
    request = contract.build(spec).request.model_validate_json(body)
    rows = [t.model_dump() for t in request.transactions]
    if pii := spec.events_feed.pii_columns:
        from include.privacy.keys import load_key
        from include.privacy.pseudonym import Pseudonymiser

        pseudo = Pseudonymiser(load_key(create=False))
        rows = [pseudo.row(r, pii) for r in rows]
    with online.OnlineFeatures.open() as store:
        assembled = store.lookup(rows)
    model = served.load(model_tag)
    return model, online.feature_matrix(assembled, model.feature_names)


def _in_process(model: Any, matrix: Any, n: int) -> list[float]:
    """``model.predict`` on one row at a time (the service's call), cycling the rows, after
    a warm-up; the seconds of each call."""
    rows = [matrix[i : i + 1] for i in range(len(matrix))]
    for i in range(WARMUP):
        model.predict(rows[i % len(rows)])
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        model.predict(rows[i % len(rows)])
        samples.append((time.perf_counter_ns() - start) / 1e9)
    return samples


# ------------------------------------------------------------------------------ printing
def _us(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds * 1e6:,.0f} µs"


def _line(label: str, m: dict[str, Any]) -> str:
    seq, conc = m["sequential"], m["concurrent"]
    cpu = f"; server CPU {_us(m['cpu_per_request_s'])}/request" if m["cpu_per_request_s"] else ""
    return (
        f"  {label}: p50 {fmt(seq['p50_s'], 's')}, p99 {fmt(seq['p99_s'], 's')} "
        f"(errors {seq['errors']}){cpu}; {CLIENTS} clients {conc['requests_per_s']:,.0f} req/s, "
        f"statuses {conc['by_status']}, connection failures {conc['connection_failures']}"
    )


def _print_steps(svc: dict[str, Any]) -> None:
    if gc := svc.get("gc"):
        print(
            f"  its garbage collector in the sequential run: collections by generation "
            f"{gc['collections']}, paused {sum(gc['pause_ms_total']):.1f} ms in all "
            f"(longest pauses since start {gc['pause_ms_max_since_start']} ms)"
        )
    steps = svc["sequential"]["steps"]
    if not steps:
        print("  steps: no Server-Timing (start the service with MLOPS_SERVING_TIMING=true)")
        return
    parts = [
        f"{name} {v['p50_s'] * 1e6:.0f}/{v['p99_s'] * 1e6:.0f}"
        for name, v in steps.items()
        if name != "total"
    ]
    print("  its steps, p50/p99 µs (Server-Timing): " + ", ".join(parts))
    if total := steps.get("total"):
        outside = svc["sequential"]["p50_s"] - total["p50_s"]
        print(
            f"  in the service p50 {_us(total['p50_s'])}; outside its steps "
            f"(client, HTTP, uvicorn, BentoML's middlewares) p50 ≈ {_us(outside)}"
        )


def _print_floor_gap(floor: dict[str, Any], svc: dict[str, Any]) -> None:
    fs, ss = floor["sequential"], svc["sequential"]
    rps = svc["concurrent"]["requests_per_s"] / floor["concurrent"]["requests_per_s"]
    cpu = ""
    if floor["cpu_per_request_s"] and svc["cpu_per_request_s"]:
        cpu = f", server CPU {_us(svc['cpu_per_request_s'] - floor['cpu_per_request_s'])}"
    print(
        f"  above the floor: p50 {_us(ss['p50_s'] - fs['p50_s'])}, "
        f"p99 {_us(ss['p99_s'] - fs['p99_s'])}{cpu} per request; "
        f"throughput {rps:.2f}x the floor's"
    )


# ------------------------------------------------------------------------------ sections
# Per size (bench.common.Size): sequential requests, seconds of 16 clients, alternating
# blocks, distinct transactions. "smoke" runs every path and measures nothing.
SIZES: dict[str, tuple[int, float, int, int]] = {
    "smoke": (100, 1.0, 1, 5),
    "quick": (1000, 6.0, 2, TRANSACTIONS),
    "default": (3000, 15.0, 3, TRANSACTIONS),
}


def _size(size: str | bool) -> str:
    """``size`` as a name; True/False are the old ``quick`` flag."""
    if isinstance(size, bool):
        return "quick" if size else "default"
    return size


def run(size: str | bool = "default") -> dict[str, Any]:
    from devtools.trained_platform import build_platform
    from include.deployment import candidate, checks, package

    size = _size(size)
    n, seconds, rounds, rows = SIZES[size]
    print(f"\n== Serving: online latency and throughput ({size}) ==")
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
    transactions = checks.golden_requests(rows=rows)[:rows]
    payloads = [json.dumps({"transactions": [tx]}).encode() for tx in transactions]
    model = _model_rows(packaged["model_tag"], transactions)
    os.environ["MLOPS_SERVING_TIMING"] = "true"
    try:
        with (
            _serve_floor(scratch / "logs") as (floor_url, floor_pid, floor_start_s),
            candidate.serve(packaged["bento_tag"], scratch / "logs", capture=True) as cand,
        ):
            # both up, measured in alternating blocks: the same machine state for both
            measured = measure(
                [
                    Served("floor", floor_url, "", [FLOOR_PAYLOAD], FLOOR_PATH, floor_pid),
                    Served("service", cand.url, cand.token, payloads, pid=cand.pid),
                ],
                n=n,
                seconds=seconds,
                rounds=rounds,
                model=model,
            )
            floor, svc, inproc = measured["floor"], measured["service"], measured["in_process"]
            import httpx

            answer = httpx.post(
                f"{cand.url}/predict",
                content=payloads[0],
                headers=_headers(cand.token, synthetic=True),
            ).json()
    finally:
        os.environ.pop("MLOPS_SERVING_TIMING", None)
    seq = svc["sequential"]
    ratio = seq["p99_s"] / inproc["p99_s"] if inproc["p99_s"] else float("nan")
    print(
        f"  Bento built in {build_s:.1f} s; service ready after {cand.startup_s:.1f} s "
        f"(floor {floor_start_s:.1f} s), RSS {svc['rss_mb']:.0f} MB "
        f"(floor {floor['rss_mb']:.0f} MB); answer v{answer['model']['version']}"
    )
    print(
        f"  one transaction a request: {n} sequential requests, then {seconds:.0f} s of "
        f"{CLIENTS} clients, each in {rounds} blocks alternating floor, service (and "
        "in-process predict):"
    )
    print(_line("floor (BentoML hello world)", floor))
    print(_line("scoring service", svc))
    _print_floor_gap(floor, svc)
    _print_steps(svc)
    print(
        f"  in-process predict p50 {_us(inproc['p50_s'])}, p99 {_us(inproc['p99_s'])} "
        f"→ HTTP p99 / in-process p99 {ratio:.1f}x"
    )
    conc, fseq, fconc = svc["concurrent"], floor["sequential"], floor["concurrent"]
    figures = [
        Figure("serving", "online p99, one transaction", seq["p99_s"], "s", TARGET_P99_S),
        Figure("serving", "online p99 / in-process p99", ratio, "x", TARGET_RATIO),
        Figure("serving", "errors at 16 concurrent", float(conc["errors"]), "x", 0.0),
        Figure(
            "serving",
            "throughput at 16 concurrent",
            conc["requests_per_s"],
            "rows/s",
            note=f"target >= {TARGET_RPS:,.0f}/s",
        ),
        Figure("serving", "online p50 / floor p50", seq["p50_s"] / fseq["p50_s"], "x"),
        Figure("serving", "online p99 / floor p99", seq["p99_s"] / fseq["p99_s"], "x"),
        Figure(
            "serving",
            "floor throughput / throughput at 16",
            fconc["requests_per_s"] / conc["requests_per_s"] if conc["requests_per_s"] else 0.0,
            "x",
        ),
        Figure("serving", "floor p99 (BentoML hello world)", fseq["p99_s"], "s"),
        Figure("serving", "floor throughput at 16 concurrent", fconc["requests_per_s"], "rows/s"),
        Figure("serving", "service start-up to ready", cand.startup_s, "s"),
    ]
    if svc["cpu_per_request_s"] and floor["cpu_per_request_s"]:
        cpu_ratio = svc["cpu_per_request_s"] / floor["cpu_per_request_s"]
        figures.insert(7, Figure("serving", "server CPU per request / floor's", cpu_ratio, "x"))
    return {
        "figures": figures,
        "service": svc,
        "floor": floor,
        "in_process": inproc,
        "startup_s": cand.startup_s,
        "floor_startup_s": floor_start_s,
        "bento_build_s": build_s,
    }


def run_live(size: str | bool = "default", url: str | None = None) -> dict[str, Any]:
    """The same clients against a running service (``make run``'s): its URL and token from
    the environment, transactions of the newest validated day of its lake, marked
    synthetic (scored, never captured)."""
    import httpx

    from include.config import get_settings
    from include.deployment import checks
    from serving import auth

    n, seconds, rounds, rows = SIZES[_size(size)]
    url = (url or get_settings().serving_url).rstrip("/")
    token = auth.load_token()
    status = httpx.get(f"{url}/status", timeout=10).json()
    if not status.get("ready"):
        raise SystemExit(f"{url} is not ready: {json.dumps(status)[:500]}")
    transactions = checks.golden_requests(rows=rows)[:rows]
    payloads = [json.dumps({"transactions": [tx]}).encode() for tx in transactions]
    print(f"== Serving, live: {url} ({status['model']['tag']}, pid {status['pid']}) ==")
    served = Served("live", url, token, payloads, pid=status.get("pid"), synthetic=True)
    model = _model_rows(status["model"]["tag"], transactions)
    # BentoML's hello world beside it, in alternating blocks: what any endpoint costs on
    # this machine at this moment, as in the bench platform's run.
    with (
        tempfile.TemporaryDirectory(prefix="mlops-bench-floor-") as logs,
        _serve_floor(Path(logs)) as (floor_url, floor_pid, _),
    ):
        floor_served = Served("floor", floor_url, "", [FLOOR_PAYLOAD], FLOOR_PATH, floor_pid)
        measured = measure([floor_served, served], n=n, seconds=seconds, rounds=rounds, model=model)
    floor, svc, inproc = measured["floor"], measured["live"], measured["in_process"]
    ratio = svc["sequential"]["p99_s"] / inproc["p99_s"]
    print(_line("floor (BentoML hello world)", floor))
    print(_line("live service", svc))
    _print_floor_gap(floor, svc)
    _print_steps(svc)
    print(
        f"  in-process predict p50 {_us(inproc['p50_s'])}, p99 {_us(inproc['p99_s'])} "
        f"→ HTTP p99 / in-process p99 {ratio:.1f}x"
    )
    return {"service": svc, "floor": floor, "in_process": inproc, "ratio": ratio, "url": url}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.serving")
    parser.add_argument("--client", help="internal: run a client with these JSON args ('-': stdin)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="1,000 requests and 6 s, not 3,000/15")
    size.add_argument("--smoke", action="store_true", help="100 requests and 1 s: the paths run")
    parser.add_argument(
        "--live",
        action="store_true",
        help="measure the running service (MLOPS_SERVING_URL) instead of building one",
    )
    parser.add_argument("--url", help="with --live: the service's URL (default: settings')")
    ns = parser.parse_args()
    if ns.client:
        _client_main(ns.client)
    elif ns.live:
        run_live("smoke" if ns.smoke else ns.quick, ns.url)
    else:
        from bench.common import apply_env, isolated_env

        with tempfile.TemporaryDirectory(prefix="mlops-bench-serving-") as tmp:
            apply_env(isolated_env(Path(tmp)))
            result = run("smoke" if ns.smoke else ns.quick)
            for f in result["figures"]:
                print(
                    f"  {f.name}: {fmt(f.value, f.unit)}"
                    + (f" (target {f.target})" if f.target is not None else "")
                )
