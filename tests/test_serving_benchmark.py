"""The serving benchmark's reading of wrk's output and its verdicts against the issue's targets."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from benchmark_scripts import load_benchmark_script

WRK_OUTPUT = """\
Running 15s test @ http://127.0.0.1:3300/next_purchase
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.09ms  386.86us  12.51ms   95.50%
    Req/Sec     1.57k    50.00     1.70k    72.99%
  Latency Distribution
     50%  880.00us
     75%    1.10ms
     90%    1.30ms
     99%    2.85ms
  23548 requests in 15.01s, 20.10MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   1568.84
"""


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """benchmarks/serving.py as a module (its name clashes with the serving package)."""
    return load_benchmark_script("serving")


def test_latency_percentiles_are_read_from_the_distribution_not_the_thread_stats(
    bench: ModuleType,
) -> None:
    assert bench.duration_ms(bench.found(r"^\s*50%\s+(\S+)", WRK_OUTPUT)) == pytest.approx(0.88)
    assert bench.duration_ms(bench.found(r"^\s*99%\s+(\S+)", WRK_OUTPUT)) == pytest.approx(2.85)
    assert float(bench.found(r"Non-2xx or 3xx responses: (\d+)", WRK_OUTPUT)) == 3


@pytest.mark.parametrize(
    ("text", "expected"), [("830.00us", 0.83), ("12.5ms", 12.5), ("1.02s", 1020.0)]
)
def test_wrk_durations_are_converted_to_milliseconds(
    bench: ModuleType, text: str, expected: float
) -> None:
    assert bench.duration_ms(text) == pytest.approx(expected)
    assert bench.duration_ms("n/a") != bench.duration_ms("n/a")  # NaN when unreadable


def run(rps: float, errors: float = 0.0) -> dict[str, float]:
    return {"requests_per_s": rps, "errors": errors, "socket_errors": 0.0}


def test_target_verdicts_use_clean_runs_and_both_open_loop_runs(bench: ModuleType) -> None:
    one = bench.Result("next_purchase, 1 id")
    one.saturation = {1: run(700.0), 32: run(1200.0, errors=5.0)}
    one.open_loop_fresh = {"p50_ms": 2.0, "p99_ms": 6.0}
    one.open_loop = {"p50_ms": 9.0, "p99_ms": 25.0}
    floor = bench.Result("floor: plain endpoint")
    floor.open_loop_fresh = {"p50_ms": 1.5, "p99_ms": 3.0}
    floor.open_loop = {"p50_ms": 1.5, "p99_ms": 3.0}

    lines = bench.target_checks([one, floor], {"service": 6.5})

    saturation = next(line for line in lines if "saturation:" in line)
    assert "700.00" in saturation and "**missed**" in saturation  # the 1,200 run had errors
    verdicts = {line.split(":")[0]: line.endswith("met") for line in lines}
    assert verdicts["1 id, p50 ms at the fixed rate, fresh"]
    assert not verdicts["1 id, p50 ms at the fixed rate, after saturation"]
    assert not verdicts["1 id, p99 ms at the fixed rate, after saturation"]
    assert verdicts["1 id, p50 over the plain endpoint's, ms, fresh"]
    assert not verdicts["1 id, p50 over the plain endpoint's, ms, after saturation"]
    assert verdicts["start-up to ready, s"]


def test_window_table_shows_each_open_loop_run_window_by_window(bench: ModuleType) -> None:
    one = bench.Result("next_purchase, 1 id")
    one.open_loop_fresh = {"p50_ms": 2.0, "p50_ms@0s": 2.0, "p99_ms@0s": 4.0}
    one.open_loop = {
        "p50_ms": 6.0,
        **{"p50_ms@0s": 9.0, "p99_ms@0s": 25.0, "p50_ms@10s": 3.0, "p99_ms@10s": 7.0},
    }

    lines = bench.by_window_table([one, bench.Result("floor: plain endpoint")])

    header = next(line for line in lines if line.startswith("| endpoint"))
    assert "0-10 s" in header and "10-20 s" in header
    rows = [line for line in lines if line.startswith("| next_purchase")]
    assert rows == [
        "| next_purchase, 1 id | fresh | 2.0 / 4.0 |  |",
        "| next_purchase, 1 id | after saturation | 9.0 / 25.0 | 3.0 / 7.0 |",
    ]
    assert bench.by_window_table([bench.Result("no open loop")]) == []


def test_a_new_page_keeps_the_hand_written_analysis(bench: ModuleType, tmp_path: Path) -> None:
    page = tmp_path / "serving.md"
    assert bench.kept_analysis(page) == ""
    analysis = "## What limits these figures\n\n- x\n"
    page.write_text("# Serving benchmark\n\n| old | table |\n\n" + analysis)
    assert bench.kept_analysis(page) == "\n" + analysis
    page.write_text("# Serving benchmark\n\nno analysis\n")
    assert bench.kept_analysis(page) == ""
