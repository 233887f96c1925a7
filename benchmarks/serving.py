"""Load-test the service on loopback: saturation with wrk, latency at a fixed arrival rate.

Runs against the real ``bentoml serve serving.service:Clientcast`` (127.0.0.1 only) and, in the
same run and with the same BentoML configuration, a *floor* service whose endpoints do nothing:
``/next_purchase`` with the same request model and adaptive batching but no model, and a plain
``/ping``. Two kinds of load, one endpoint at a time:

(a) saturation: ``wrk`` (Debian package ``wrk``) at 1, 8, 32 and 64 connections, 15 s each: the
    most requests per second the service sustains, with wrk's latency percentiles;
(b) fixed arrival rate: an open-loop asyncio client sends 400 requests/s for 30 s on a fixed
    schedule, whatever the answers, and measures each latency from the request's *scheduled*
    send time, so that a stalled server cannot hide its tail (no coordinated omission).

Also measured: the start-up time to ``/readyz`` and, in this process, the model's own predict
time for the same rows (the in-process floor). Results go to ``benchmarks/results/serving.md``.

    python benchmarks/serving.py                         # demo-size maison, real pipelines
    python benchmarks/serving.py --workdir DIR           # reuse DIR's data, snapshot and models
    python benchmarks/serving.py --quick                 # 3 s wrk, 10 s open loop: a smoke run,
                                                         # written to the workdir, not results/

The set-up (generate 20,000 clients, snapshot, train both families) runs only when the workdir
has no champion models and snapshot yet.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
# This script is named like the package it loads: keep its own folder off the import path, so
# that ``import serving`` finds the package, not this file.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from features.atomic_write import write_text_atomically  # noqa: E402
from training.benchmarks.record import write_benchmarks_document  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "serving.md"
HOST = "127.0.0.1"
TOKEN = "benchmark-token"
WINDOW_S = 10
"""The open-loop runs also report p50/p99 per window of this many seconds (by scheduled send)."""
ANALYSIS_HEADING = "## What limits these figures"
FLOOR_MODULE = "clientcast_serving_floor"
FLOOR_SOURCE = '''
"""The framework's floor: the service's BentoML configuration and middlewares, no model."""

from typing import Annotated

import bentoml
from bentoml.validators import ContentType

from serving.auth import BearerTokenAuth
from serving.errors import ValidationErrorBodies
from serving.schemas import NextPurchaseRequest
from serving.service import JSON, NEXT_PURCHASE_API, SERVICE_CONFIG

CONFIG = {**SERVICE_CONFIG, "tracing": {"excluded_urls": ["/next_purchase", "/ping"]}}
ANSWER = {"status": "ok"}


@bentoml.service(**CONFIG)
class Floor:
    @bentoml.api(**NEXT_PURCHASE_API)
    async def next_purchase(
        self, client_ids: list[str]
    ) -> Annotated[list[dict], ContentType(JSON)]:
        return [ANSWER for _ in client_ids]

    @bentoml.api(route="/ping", input_spec=NextPurchaseRequest)
    async def ping(self, client_ids: list[str]) -> Annotated[dict, ContentType(JSON)]:
        return ANSWER


Floor.add_asgi_middleware(BearerTokenAuth)
Floor.add_asgi_middleware(ValidationErrorBodies)
'''


@dataclass(frozen=True)
class Workload:
    """One kind of request: which server, which path, and the bodies to rotate through."""

    name: str
    server: str
    path: str
    bodies: list[str]


@dataclass
class Result:
    """What one workload measured."""

    workload: str
    saturation: dict[int, dict[str, float]] = field(default_factory=dict)
    open_loop: dict[str, float] = field(default_factory=dict)
    open_loop_fresh: dict[str, float] = field(default_factory=dict)


# -- set-up -------------------------------------------------------------------------------------


def environment(workdir: Path) -> dict[str, str]:
    """Environment variables pointing clientcast at the workdir's data, snapshot and models."""
    return {
        "CLIENTCAST_DATA_DIR": str(workdir / "maison"),
        "CLIENTCAST_SNAPSHOT_DIR": str(workdir / "snapshots"),
        "CLIENTCAST_MLFLOW_ARTIFACT_DIR": str(workdir / "mlartifacts"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlruns.db'}",
        "CLIENTCAST_API_TOKEN": TOKEN,
    }


def prepare(workdir: Path, clients: int, boutiques: int, years: float) -> None:
    """Generate, snapshot and train in ``workdir``, each step only if its output is missing.

    The champions are trained by the real pipelines; the footfall backtest is cut to one origin
    per granularity, because only the serving of a champion is measured here, not its accuracy.
    """
    from clientcast.settings import load_settings
    from features.errors import UserInputError
    from features.snapshot import latest_snapshot, write_snapshot
    from features.synthetic import MaisonConfig, generate_maison
    from serving.startup import check_ready_to_serve
    from training.footfall.pipeline import FootfallOptions, train_footfall
    from training.next_purchase.pipeline import train_next_purchase
    from training.tracking import CHAMPION, alias_version, configure_tracking

    os.environ.update(environment(workdir))
    settings = load_settings()
    if not settings.data_dir.is_dir():
        print(f"generating {clients:,} clients in {settings.data_dir}")
        generate_maison(
            settings.data_dir, MaisonConfig(clients=clients, boutiques=boutiques, years=years)
        )
    try:
        latest_snapshot(settings.snapshot_dir)
    except UserInputError:
        print("writing the snapshot")
        write_snapshot(settings.data_dir, None, settings.snapshot_dir, settings.reference_currency)
    configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
    if alias_version(settings.next_purchase_model, CHAMPION) is None:
        print("training next-purchase")
        train_next_purchase(settings, None)
    if alias_version(settings.footfall_model, CHAMPION) is None:
        print("training footfall")
        options = FootfallOptions(
            daily_origins=1, hourly_origins=1, warmup_origins=0, autoets=False, plot_boutiques=0
        )
        train_footfall(settings, None, options=options)
    check_ready_to_serve(settings)
    print(f"serving the models and snapshot in {workdir}")


def workloads(seed: int = 7) -> list[Workload]:
    """Request bodies drawn from the loaded snapshot: known ids, real boutiques and dates."""
    from features.snapshot import OnlineSnapshot

    snapshot = OnlineSnapshot.load(Path(os.environ["CLIENTCAST_SNAPSHOT_DIR"]))
    rng = random.Random(seed)
    ids = snapshot.clients.get_column("client_id").to_list()
    boutiques = snapshot.boutique_daily.get_column("boutique_id").unique().sort().to_list()
    one = [json.dumps({"client_ids": [rng.choice(ids)]}) for _ in range(1000)]
    hundred = [json.dumps({"client_ids": rng.sample(ids, 100)}) for _ in range(100)]
    footfall = [
        json.dumps(
            {
                "boutique_id": rng.choice(boutiques),
                "start": (snapshot.as_of + timedelta(days=rng.randrange(0, 28))).isoformat(),
                "days": 28,
                "granularity": "daily",
            }
        )
        for _ in range(200)
    ]
    return [
        Workload("next_purchase, 1 id", "service", "/next_purchase", one),
        Workload("next_purchase, 100 ids", "service", "/next_purchase", hundred),
        Workload("footfall, 28 days", "service", "/footfall", footfall),
        Workload("floor: batched, 1 id, no model", "floor", "/next_purchase", one),
        Workload("floor: plain endpoint", "floor", "/ping", one[:1]),
    ]


# -- servers ------------------------------------------------------------------------------------


@contextmanager
def served(
    target: str, port: int, workdir: Path, extra_path: Path | None, workers: int | None = None
) -> Iterator[float]:
    """Run ``bentoml serve target`` on loopback; yield the seconds it took to be ready.

    ``workers`` overrides the service's number of worker processes (BentoML's JSON overrides).
    """
    paths = [str(extra_path or ""), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    if workers is not None:
        service = target.rsplit(":", 1)[1]
        env["BENTOML_CONFIG_OVERRIDES"] = json.dumps({"services": {service: {"workers": workers}}})
    command = [sys.executable, "-m", "bentoml", "serve", target, "--host", HOST]
    command += ["--port", str(port)]
    log = (workdir / f"serve-{port}.log").open("w")
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        ready = wait_ready(port, process, started)
        yield ready
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_ready(port: int, process: subprocess.Popen[bytes], started: float) -> float:
    """Poll ``/readyz`` every 50 ms; the seconds from launch to the first 200."""
    while time.perf_counter() - started < 180:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the server on port {port} was not ready after 180 s")


def server_processes(port: int) -> list[psutil.Process]:
    """The processes listening on ``port`` (the BentoML workers)."""
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if any(c.laddr.port == port for c in process.net_connections(kind="tcp")):
                found.append(process)
        except psutil.Error:
            continue
    return found


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of ``processes`` so far."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


# -- load ---------------------------------------------------------------------------------------


def wrk_script(workload: Workload, directory: Path) -> Path:
    """A wrk Lua script that POSTs the workload's bodies in turn with the bearer token."""
    bodies = ",\n".join(json.dumps(body) for body in workload.bodies)
    script = f"""
    local bodies = {{{bodies}}}
    local counter = 0
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer {TOKEN}"
    request = function()
      counter = counter + 1
      return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])
    end
    """
    path = directory / f"{re.sub(r'[^a-z0-9]+', '_', workload.name)}.lua"
    path.write_text(textwrap.dedent(script))
    return path


def duration_ms(text: str) -> float:
    """wrk's ``12.5ms`` / ``830.00us`` / ``1.02s`` in milliseconds; NaN when unreadable."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        return float("nan")
    return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[match.group(2)]


def found(pattern: str, text: str, default: str = "") -> str:
    """The first group of ``pattern`` in ``text`` (``^`` anchors at each line), or ``default``.

    wrk's latency distribution must be read at line starts: its thread statistics also end in
    percentages (``+/- Stdev 95.50%``) that an unanchored ``50%`` would catch.
    """
    match = re.search(pattern, text, flags=re.MULTILINE)
    return match.group(1) if match else default


def run_wrk(url: str, script: Path, connections: int, seconds: int, port: int) -> dict[str, float]:
    """One wrk run: requests/s, p50/p99 latency, errors and server CPU per request."""
    processes = server_processes(port)
    before = cpu_seconds(processes)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(processes) - before
    requests = int(found(r"(\d+) requests in", output, "0"))
    return {
        "requests_per_s": float(found(r"Requests/sec:\s+([\d.]+)", output, "0")),
        "p50_ms": duration_ms(found(r"^\s*50%\s+(\S+)", output)),
        "p99_ms": duration_ms(found(r"^\s*99%\s+(\S+)", output)),
        "errors": float(found(r"Non-2xx or 3xx responses: (\d+)", output, "0")),
        "socket_errors": float(
            sum(
                map(
                    int,
                    re.findall(
                        r"(?:connect|read|write|timeout) (\d+)",
                        found(r"Socket errors: (.*)", output),
                    ),
                )
            )
        ),
        "server_cpu_ms_per_request": 1000 * cpu / max(requests, 1),
    }


async def open_loop(url: str, bodies: list[str], rate: float, seconds: float) -> dict[str, float]:
    """Send ``rate`` requests/s for ``seconds`` on a fixed schedule; latency from schedule."""
    import aiohttp

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    total = int(rate * seconds)
    latencies = np.full(total, np.nan)
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        first = loop.time() + 0.5

        async def send(index: int) -> None:
            scheduled = first + index / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            body = bodies[index % len(bodies)]
            try:
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    statuses.append(answer.status)
            except aiohttp.ClientError:
                statuses.append(0)
            latencies[index] = (loop.time() - scheduled) * 1000

        await asyncio.gather(*(send(index) for index in range(total)))
    ok = sum(1 for status in statuses if status == 200)
    summary = {
        "rate": rate,
        "sent": float(total),
        "ok": float(ok),
        "p50_ms": float(np.nanpercentile(latencies, 50)),
        "p99_ms": float(np.nanpercentile(latencies, 99)),
        "max_ms": float(np.nanmax(latencies)),
    }
    per_window = int(rate * WINDOW_S)
    for start in range(0, total, per_window):
        window = latencies[start : start + per_window]
        second = round(start / rate)
        summary[f"p50_ms@{second}s"] = float(np.nanpercentile(window, 50))
        summary[f"p99_ms@{second}s"] = float(np.nanpercentile(window, 99))
    return summary


# -- in-process floor ---------------------------------------------------------------------------


def timed(function: Callable[[], object], repeat: int) -> dict[str, float]:
    """p50 and p99 wall time of ``function`` in milliseconds."""
    for _ in range(min(50, repeat)):
        function()
    times = np.empty(repeat)
    for index in range(repeat):
        started = time.perf_counter()
        function()
        times[index] = time.perf_counter() - started
    return {
        "p50_ms": float(np.percentile(times, 50) * 1000),
        "p99_ms": float(np.percentile(times, 99) * 1000),
    }


def in_process(workload_list: list[Workload]) -> dict[str, dict[str, float]]:
    """The model's own time for the workloads' rows, without HTTP, in this process."""
    from clientcast.settings import load_settings
    from serving.state import load_serving_state

    started = time.perf_counter()
    state = load_serving_state(load_settings())
    load_seconds = time.perf_counter() - started
    gc.collect()
    gc.freeze()  # as the service does after loading
    scorer = state.next_purchase
    one = [json.loads(body)["client_ids"] for body in workload_list[0].bodies]
    hundred = [json.loads(body)["client_ids"] for body in workload_list[1].bodies]
    rows_one = [[scorer.client_rows[i] for i in ids] for ids in one]
    rows_hundred = [[scorer.client_rows[i] for i in ids] for ids in hundred]
    footfall = [json.loads(body) for body in workload_list[2].bodies]
    cycle = {"one": 0, "hundred": 0, "footfall": 0}

    def next_of(name: str, items: list[Any]) -> Any:
        cycle[name] = (cycle[name] + 1) % len(items)
        return items[cycle[name]]

    def window() -> object:
        body = next_of("footfall", footfall)
        start = date.fromisoformat(body["start"])
        return state.footfall.window(body["boutique_id"], start, body["days"], "daily")

    return {
        "state load": {"seconds": load_seconds},
        "predict, 1 row": timed(lambda: scorer.predict_rows(next_of("one", rows_one)), 3000),
        "predict + answer, 1 id": timed(lambda: scorer.score(next_of("one", one)), 3000),
        "predict, 100 rows": timed(
            lambda: scorer.predict_rows(next_of("hundred", rows_hundred)), 500
        ),
        "predict + answer, 100 ids": timed(lambda: scorer.score(next_of("hundred", hundred)), 500),
        "footfall window, 28 days": timed(window, 3000),
    }


# -- report -------------------------------------------------------------------------------------


def machine() -> str:
    """CPU model, cores, memory, load and versions, for the report."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = re.findall(r"model name\s*:\s*(.*)", cpuinfo.read_text())
        model = names[0] if names else model
    import bentoml
    import lightgbm

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{model}, {os.cpu_count()} cores, {memory:.1f} GiB RAM, load average at start {load}; "
        f"Python {platform.python_version()}, bentoml {bentoml.__version__}, "
        f"lightgbm {lightgbm.__version__}"
    )


TARGETS = {
    "saturation_requests_per_s": 800.0,
    "open_loop_p50_ms": 5.0,
    "open_loop_p99_ms": 20.0,
    "p50_over_floor_ms": 2.0,
    "startup_s": 15.0,
}
"""Issue #6's targets for ``/next_purchase`` with one id on 2 cores."""


def target_checks(results: list[Result], startup: dict[str, float]) -> list[str]:
    """One line per target of issue #6: the measured figure, the target, met or missed."""
    by_name = {result.workload: result for result in results}
    one = by_name.get("next_purchase, 1 id")
    floor = by_name.get("floor: plain endpoint")
    checks: list[tuple[str, float, float, bool]] = []
    if one is not None and one.saturation:
        clean = [r for r in one.saturation.values() if not r["errors"] + r["socket_errors"]]
        best = max(run["requests_per_s"] for run in clean or one.saturation.values())
        goal = TARGETS["saturation_requests_per_s"]
        label = "1 id, most requests/s at saturation" + ("" if clean else " (all with errors)")
        checks.append((label, best, goal, bool(clean) and best >= goal))
    for when, attribute in (("fresh", "open_loop_fresh"), ("after saturation", "open_loop")):
        run = getattr(one, attribute, None) if one is not None else None
        if not run:
            continue
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
            value, goal = run[key], TARGETS[f"open_loop_{key}"]
            checks.append(
                (f"1 id, {label} ms at the fixed rate, {when}", value, goal, value <= goal)
            )
        plain = getattr(floor, attribute, None) if floor is not None else None
        if plain:
            gap = run["p50_ms"] - plain["p50_ms"]
            goal = TARGETS["p50_over_floor_ms"]
            label = f"1 id, p50 over the plain endpoint's, ms, {when}"
            checks.append((label, gap, goal, gap <= goal))
    if "service" in startup:
        value, goal = startup["service"], TARGETS["startup_s"]
        checks.append(("start-up to ready, s", value, goal, value <= goal))
    return [
        f"{label}: {value:,.2f} (target {'≥' if 'requests' in label else '≤'} {goal:g}): "
        + ("met" if met else "**missed**")
        for label, value, goal, met in checks
    ]


def by_window_table(results: list[Result]) -> list[str]:
    """Markdown lines: each open-loop run's p50 / p99 per window, to show how a burst fades."""
    runs = [
        (result.workload, when, run)
        for result in results
        for when, run in (("fresh", result.open_loop_fresh), ("after saturation", result.open_loop))
        if run
    ]
    starts = sorted(
        {int(key[7:-1]) for _, _, run in runs for key in run if key.startswith("p50_ms@")}
    )
    if not starts:
        return []
    lines = [
        "",
        f"p50 / p99 (ms) per {WINDOW_S}-second window of the same runs, by scheduled send time:",
        "",
        "| endpoint | when | " + " | ".join(f"{s}-{s + WINDOW_S} s" for s in starts) + " |",
        "|---|---|" + "---:|" * len(starts),
    ]
    for name, when, run in runs:
        cells = [
            f"{run[f'p50_ms@{s}s']:.1f} / {run[f'p99_ms@{s}s']:.1f}"
            if f"p50_ms@{s}s" in run
            else ""
            for s in starts
        ]
        lines.append(f"| {name} | {when} | " + " | ".join(cells) + " |")
    return lines


def report(
    results: list[Result],
    startup: dict[str, float],
    floors: dict[str, dict[str, float]],
    args: argparse.Namespace,
    header: str,
) -> str:
    """The markdown page of ``benchmarks/results/serving.md``."""
    connections = sorted({c for r in results for c in r.saturation})
    lines = [
        "# Serving benchmark",
        "",
        f"- command: `python benchmarks/serving.py {' '.join(sys.argv[1:])}`".rstrip(),
        f"- machine: {header}",
        f"- load average at end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- snapshot: {startup.get('clients', 0):,.0f} clients, "
        f"{startup.get('boutiques', 0):,.0f} boutiques; bearer-token auth on; "
        f"workers: {args.workers or 'as configured (1)'}",
        "",
        "## Start-up to ready",
        "",
        f"- service (`bentoml serve` to the first 200 of `/readyz`): {startup['service']:.1f} s",
        f"- floor service: {startup['floor']:.1f} s",
        "",
        f"## (a) Saturation: wrk, 1 thread, {args.duration} s per run",
        "",
        "requests/s · p50 / p99 latency (ms) · server CPU per request (ms)",
        "",
        "| endpoint | " + " | ".join(f"{c} conn." for c in connections) + " |",
        "|---|" + "---:|" * len(connections),
    ]
    for result in results:
        cells = []
        for c in connections:
            run = result.saturation.get(c)
            if run is None:
                cells.append("")
                continue
            failed = run["errors"] + run["socket_errors"]
            errors = f" · **{failed:.0f} errors**" if failed else ""
            cells.append(
                f"{run['requests_per_s']:,.0f} · {run['p50_ms']:.1f} / {run['p99_ms']:.1f} · "
                f"{run['server_cpu_ms_per_request']:.2f}{errors}"
            )
        lines.append(f"| {result.workload} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## (b) Fixed arrival rate: {args.rate:.0f} requests/s for {args.open_loop} s, open loop",
        "",
        "Latency measured from each request's scheduled send time. Each endpoint is run twice: "
        "*fresh* (before any wrk run against it) and *after saturation* (right after its wrk "
        "runs): BentoML's adaptive batcher learns its waiting time from the waits it measured, "
        "so a burst can leave it waiting longer afterwards.",
        "",
        "| endpoint | when | sent | 200 OK | p50 ms | p99 ms | max ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for when, run in (
            ("fresh", result.open_loop_fresh),
            ("after saturation", result.open_loop),
        ):
            if run:
                lines.append(
                    f"| {result.workload} | {when} | {run['sent']:,.0f} | {run['ok']:,.0f} | "
                    f"{run['p50_ms']:.2f} | {run['p99_ms']:.2f} | {run['max_ms']:.1f} |"
                )
    lines += by_window_table(results)
    checks = target_checks(results, startup)
    after_burst = [line for line in checks if "after saturation" in line]
    lines += [
        "",
        "## Against the issue's targets (2 cores)",
        "",
        "Saturation by wrk; latency from the fixed-rate run on its own (*fresh*), the two kinds "
        "of load of the issue's protocol.",
        "",
    ]
    lines += [f"- {line}" for line in checks if line not in after_burst]
    if after_burst:
        lines += [
            "",
            "## The same latency targets right after a saturating burst (beyond the protocol)",
            "",
        ]
        lines += [f"- {line}" for line in after_burst]
    lines += [
        "",
        "## In-process floor: the same rows without HTTP",
        "",
        "| what | p50 ms | p99 ms |",
        "|---|---:|---:|",
    ]
    for name, run in floors.items():
        if "p50_ms" in run:
            lines.append(f"| {name} | {run['p50_ms']:.3f} | {run['p99_ms']:.3f} |")
    lines += [
        "",
        f"Loading the state in this process (champions, snapshot, cached reasons, forecasts): "
        f"{floors['state load']['seconds']:.1f} s.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Parse the options, prepare, serve, load, report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=None, help="Data, snapshot and models.")
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--boutiques", type=int, default=30)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--port", type=int, default=3300)
    parser.add_argument("--duration", type=int, default=15, help="Seconds per wrk run.")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--rate", type=float, default=400.0, help="Open-loop requests/s.")
    parser.add_argument("--open-loop", type=int, default=30, help="Open-loop seconds.")
    parser.add_argument("--quick", action="store_true", help="3 s wrk runs, 10 s open loop.")
    parser.add_argument(
        "--workers", type=int, default=None, help="Override the service's worker processes."
    )
    parser.add_argument(
        "--only", nargs="+", default=None, help="Run only the workloads whose name starts so."
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"The markdown page; default {RESULTS.relative_to(ROOT)}, or the workdir's "
        "serving-quick.md with --quick (a smoke run is never the recorded result).",
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.open_loop = 3, 10
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    header = machine()
    workdir = args.workdir or Path(tempfile.gettempdir()) / "clientcast-serving-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    prepare(workdir.resolve(), args.clients, args.boutiques, args.years)
    if args.out is None:
        args.out = workdir / "serving-quick.md" if args.quick else RESULTS
    (workdir / f"{FLOOR_MODULE}.py").write_text(FLOOR_SOURCE)
    loads = workloads()
    if args.only:
        loads = [w for w in loads if any(w.name.startswith(prefix) for prefix in args.only)]
    results = [Result(w.name) for w in loads]
    startup: dict[str, float] = {}
    ports = {"service": args.port, "floor": args.port + 1}
    targets = {"service": "serving.service:Clientcast", "floor": f"{FLOOR_MODULE}:Floor"}
    for server in ("service", "floor"):
        if not any(w.server == server for w in loads):
            continue
        with served(targets[server], ports[server], workdir, workdir, args.workers) as ready:
            startup[server] = ready
            print(f"{server} ready in {ready:.1f} s")
            for workload, result in zip(loads, results, strict=True):
                if workload.server != server:
                    continue
                url = f"http://{HOST}:{ports[server]}{workload.path}"
                script = wrk_script(workload, workdir)
                result.open_loop_fresh = asyncio.run(
                    open_loop(url, workload.bodies, args.rate, args.open_loop)
                )
                print(f"{workload.name} open loop, fresh: {result.open_loop_fresh}")
                for connections in args.connections:
                    run = run_wrk(url, script, connections, args.duration, ports[server])
                    result.saturation[connections] = run
                    print(f"{workload.name} c={connections}: {run}")
                result.open_loop = asyncio.run(
                    open_loop(url, workload.bodies, args.rate, args.open_loop)
                )
                print(f"{workload.name} open loop, after saturation: {result.open_loop}")
    floors = in_process(workloads())
    info = json.loads((latest_manifest()).read_text())
    startup["clients"] = float(info["rows"]["clients"])
    startup["boutiques"] = float(info["rows"]["boutiques"])
    page = report(results, startup, floors, args, header) + kept_analysis(args.out)
    write_text_atomically(page, args.out)
    if args.out == RESULTS:
        write_benchmarks_document(RESULTS.parent, ROOT / "docs" / "BENCHMARKS.md")
    if args.json is not None:
        payload = {
            "startup": startup,
            "in_process": floors,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    print(page)


def kept_analysis(page: Path) -> str:
    """The hand-written ``## What limits these figures`` section of an earlier page, if any:
    a new run keeps it, to be re-read against the new figures."""
    if not page.is_file():
        return ""
    text = page.read_text(encoding="utf-8")
    start = text.find(ANALYSIS_HEADING)
    return "" if start < 0 else "\n" + text[start:].rstrip() + "\n"


def latest_manifest() -> Path:
    """The manifest of the snapshot the service loaded."""
    from features.snapshot import MANIFEST, latest_snapshot

    return latest_snapshot(Path(os.environ["CLIENTCAST_SNAPSHOT_DIR"])) / MANIFEST


if __name__ == "__main__":
    main()
