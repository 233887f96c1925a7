"""Search the Auckland footfall model's LightGBM parameters with Optuna on the validation origins.

One granularity per run. Each trial runs the project's model exactly as the Auckland benchmark
does (:func:`training.benchmarks.auckland.run_granularity`, its strategy, the project's model
alone) on the **validation** origins (the protocol origins moved back 364 days, three warm-up
origins before them) and scores its MASE; the evaluation origins are never touched here. The
space is :func:`training.footfall.search_space.booster_space` with the objective fixed to L1
(L2, Huber and Tweedie were all clearly worse on these origins, benchmarks/results/auckland.md).
Trial 0 is the footfall defaults, so the study's table starts from the committed model.

The study is a seeded TPE study in ``<out>/auckland_tuning.db`` (SQLite): a second run with the
same ``--out`` resumes it. LightGBM runs on one thread and the process lowers its own priority
(``--nice``). At the end the defaults and the best trial are re-run with each ``--check-seeds``
LightGBM seed (the seed noise of the validation MASE is about +-0.008 daily), and the page
``<out>/auckland_tuning_<granularity>.md`` gives the trials, the best parameters, the
validation MASE / WAPE / coverage / pinball loss of the defaults and of the best, and the
decision rule's verdict (:func:`verdict`: adopt only a gain larger than ``--margin`` both on the
selection seed and on the other seeds).

    python benchmarks/auckland_tuning.py daily --trials 20 --out /tmp/akl-tuning
    python benchmarks/auckland_tuning.py hourly --trials 8 --out /tmp/akl-tuning --check-seeds 8
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# benchmarks/features.py and benchmarks/serving.py are named like the packages: keep this folder
# off the import path, so that ``import features`` finds the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import optuna  # noqa: E402

from features.atomic_write import write_text_atomically  # noqa: E402
from training.benchmarks.auckland import MODEL_KEY, STRATEGIES, run_granularity  # noqa: E402
from training.benchmarks.record import command_line, result_page  # noqa: E402
from training.footfall.search_space import DEFAULT_PARAMS, booster_space  # noqa: E402
from training.tuning import Objective, open_study  # noqa: E402

FIXED_PARAMS: dict[str, Any] = {"objective": "l1"}
"""Parameters of :func:`booster_space` held fixed in this search."""
MODEL_SEED = 7
"""The LightGBM seed of every trial: the benchmark's."""
METRICS: tuple[str, ...] = ("mase", "wape", "coverage_80", "pinball_mean", "wall_s")
PERCENT = ("wape", "coverage_80")


def validation_metrics(
    name: str, params: Mapping[str, Any], seed: int = MODEL_SEED, data_path: Path | None = None
) -> dict[str, float]:
    """The project's validation MASE, WAPE, coverage, pinball loss and wall seconds for
    ``params`` (over the footfall defaults), LightGBM on one thread."""
    results = run_granularity(
        name, data_path, peers=(), params=params, num_threads=1, split="validation", seed=seed
    )
    return results[MODEL_KEY]


def objective(name: str, data_path: Path | None = None) -> Objective:
    """The Optuna objective: validation MASE of the parameters a trial samples."""

    def score(trial: optuna.Trial) -> float:
        params = booster_space(trial)
        metrics = validation_metrics(name, params, data_path=data_path)
        for key, value in metrics.items():
            trial.set_user_attr(key, value)
        return metrics["mase"]

    return score


def tuning_study(name: str, out: Path, sampler_seed: int) -> optuna.Study:
    """Open (or resume) the study of ``name`` under ``out``: TPE seeded with ``sampler_seed``,
    the objective fixed to :data:`FIXED_PARAMS`, the defaults queued as its first trial."""
    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(out / 'auckland_tuning.db').resolve()}"
    study = open_study(f"auckland-{name}", storage, "minimize", seed=sampler_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.sampler = optuna.samplers.PartialFixedSampler(FIXED_PARAMS, study.sampler)
    if not study.trials:
        study.enqueue_trial({k: v for k, v in DEFAULT_PARAMS.items() if k not in FIXED_PARAMS})
    return study


def completed_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's completed trials, in the order they ran."""
    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def default_trial(trials: Sequence[optuna.trial.FrozenTrial]) -> optuna.trial.FrozenTrial | None:
    """The first trial that ran the footfall defaults, if any."""
    return next((t for t in trials if is_default(t.params)), None)


def is_default(params: Mapping[str, Any]) -> bool:
    """Whether ``params`` are the footfall defaults (keys absent from them count as default)."""
    return all(params.get(key, value) == value for key, value in DEFAULT_PARAMS.items())


def format_metric(key: str, value: float | None) -> str:
    """One metric as the result pages print it (percentages with one decimal)."""
    if value is None or value != value:
        return "–"
    if key in PERCENT:
        return f"{100 * value:.1f} %"
    return f"{value:.1f}" if key in ("wall_s", "pinball_mean") else f"{value:.3f}"


def format_param(value: Any) -> str:
    """A parameter value, floats to three significant digits."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def trials_table(trials: Sequence[optuna.trial.FrozenTrial]) -> str:
    """A Markdown table: one row per trial, its sampled parameters and validation metrics."""
    params = [key for key in DEFAULT_PARAMS if key not in FIXED_PARAMS]
    header = "| trial | " + " | ".join([*params, *METRICS]) + " |"
    rule = "|---:|" + "---:|" * (len(params) + len(METRICS))
    rows = [
        f"| {t.number} | "
        + " | ".join(
            [format_param(t.params.get(key)) for key in params]
            + [format_metric(key, t.user_attrs.get(key)) for key in METRICS]
        )
        + " |"
        for t in trials
    ]
    return "\n".join([header, rule, *rows])


def seed_check(
    name: str,
    best: Mapping[str, Any],
    seeds: Sequence[int],
    default_metrics: Mapping[str, float],
    best_metrics: Mapping[str, float],
    data_path: Path | None = None,
) -> dict[str, dict[int, dict[str, float]]]:
    """Validation metrics of the defaults and of ``best`` for the benchmark's seed (already
    measured) and each of ``seeds``."""
    runs: dict[str, dict[int, dict[str, float]]] = {
        "defaults": {MODEL_SEED: dict(default_metrics)},
        "best": {MODEL_SEED: dict(best_metrics)},
    }
    for seed in seeds:
        runs["defaults"][seed] = validation_metrics(name, DEFAULT_PARAMS, seed, data_path)
        runs["best"][seed] = (
            runs["defaults"][seed]
            if is_default(best)
            else validation_metrics(name, best, seed, data_path)
        )
        for label in runs:
            print(f"seed {seed}, {label}: MASE {runs[label][seed]['mase']:.4f}", flush=True)
    return runs


def comparison_table(runs: Mapping[str, Mapping[int, Mapping[str, float]]]) -> str:
    """A Markdown table of the defaults and the best per LightGBM seed, then their means."""
    header = "| parameters | LightGBM seed | " + " | ".join(METRICS) + " |"
    rule = "|---|---:|" + "---:|" * len(METRICS)
    rows = []
    for label, by_seed in runs.items():
        for seed, values in by_seed.items():
            cells = [format_metric(key, values.get(key)) for key in METRICS]
            rows.append(f"| {label} | {seed} | " + " | ".join(cells) + " |")
        if len(by_seed) > 1:
            means = {
                key: sum(v[key] for v in by_seed.values()) / len(by_seed)
                for key in METRICS
                if key != "wall_s"
            }
            cells = [format_metric(key, means.get(key)) for key in METRICS]
            rows.append(f"| {label} | mean | " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows])


def verdict(runs: Mapping[str, Mapping[int, Mapping[str, float]]], margin: float) -> str:
    """The decision rule, fixed before the search: adopt the best only if its MASE beats the
    defaults' by more than ``margin`` with the selection seed, and on the mean of the other
    seeds (unbiased by the selection), and its WAPE is not worse on either."""
    defaults, best = runs["defaults"], runs["best"]
    checks = [seed for seed in defaults if seed != MODEL_SEED]

    def mean(by_seed: Mapping[int, Mapping[str, float]], key: str) -> float:
        return sum(by_seed[seed][key] for seed in checks) / len(checks)

    gain = defaults[MODEL_SEED]["mase"] - best[MODEL_SEED]["mase"]
    parts = [f"seed {MODEL_SEED}: defaults' MASE minus the best's {gain:+.4f}"]
    adopted = gain > margin and best[MODEL_SEED]["wape"] <= defaults[MODEL_SEED]["wape"]
    if checks:
        check_gain = mean(defaults, "mase") - mean(best, "mase")
        parts.append(f"seeds {', '.join(map(str, checks))} (mean): {check_gain:+.4f}")
        adopted = adopted and check_gain > margin and mean(best, "wape") <= mean(defaults, "wape")
    else:
        adopted = False
    choice = "adopt the best" if adopted else "keep the defaults"
    return f"{'; '.join(parts)}; margin {margin}: **{choice}**."


def main(argv: Sequence[str] | None = None) -> int:
    """Run or resume the search, print the trials and write the result page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("granularity", choices=sorted(STRATEGIES))
    parser.add_argument("--out", type=Path, required=True, help="folder of the study and page")
    parser.add_argument("--trials", type=int, default=20, help="new trials to run (default 20)")
    parser.add_argument("--sampler-seed", type=int, default=7, help="TPE seed (default 7)")
    parser.add_argument(
        "--check-seeds",
        type=int,
        nargs="*",
        default=[8],
        help="other LightGBM seeds to re-run the defaults and the best with (default: 8)",
    )
    parser.add_argument(
        "--margin", type=float, default=0.008, help="MASE gain to adopt the best (default 0.008)"
    )
    parser.add_argument("--nice", type=int, default=10, help="priority increment (default 10)")
    parser.add_argument("--data", type=Path, help="a counts file (default: the installed one)")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    study = tuning_study(args.granularity, args.out, args.sampler_seed)
    started = time.perf_counter()

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        attrs = trial.user_attrs
        print(
            f"trial {trial.number}: MASE {trial.value:.4f} WAPE {100 * attrs['wape']:.2f} % "
            f"coverage {100 * attrs['coverage_80']:.1f} % ({attrs['wall_s']:.0f} s); "
            f"best {study.best_value:.4f} (trial {study.best_trial.number}); "
            f"{time.perf_counter() - started:.0f} s so far",
            flush=True,
        )

    study.optimize(objective(args.granularity, args.data), n_trials=args.trials, callbacks=[report])
    trials = completed_trials(study)
    table = trials_table(trials)
    print(table)
    best = study.best_trial
    best_params = {**FIXED_PARAMS, **best.params}
    defaults = default_trial(trials)
    default_metrics = (
        defaults.user_attrs
        if defaults is not None
        else validation_metrics(args.granularity, DEFAULT_PARAMS, data_path=args.data)
    )
    runs = seed_check(
        args.granularity,
        best_params,
        [seed for seed in args.check_seeds if seed != MODEL_SEED],
        default_metrics,
        best.user_attrs,
        args.data,
    )
    comparison = comparison_table(runs)
    decision = verdict(runs, args.margin)
    print(comparison, decision, sep="\n")
    note = (
        f"{args.granularity.capitalize()} model ({STRATEGIES[args.granularity]} strategy) on the "
        f"validation origins, LightGBM on one thread, seed {MODEL_SEED}; TPE sampler seed "
        f"{args.sampler_seed}; {len(trials)} completed trials (trial 0: the footfall defaults). "
        "Wall seconds were measured on a shared machine: not final."
    )
    page = result_page(
        f"Auckland {args.granularity}: Optuna search on the validation origins",
        command_line(),
        {
            "Trials (validation)": table,
            f"Best parameters (trial {best.number})": "\n".join(
                f"- `{key}`: {format_param(value)}" for key, value in best_params.items()
            ),
            "Defaults against the best (validation)": comparison,
            "Decision": decision,
        },
        note,
    )
    path = write_text_atomically(page, args.out / f"auckland_tuning_{args.granularity}.md")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
