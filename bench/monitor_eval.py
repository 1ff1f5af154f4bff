"""How well the outbreak detectors work on released series: false alarms, detection, delay.

Simulates many seasons straight from the release mechanism, at the indicators'
production noise (discrete Laplace of the deployed scale k/ε, clipped at 0, as
``enclave.indicators`` releases every weekly count), and runs every detector of
``enclave.indicators`` on the noisy values only, with the settings of
``policies/indicators.toml``:

* each series is one region: three years of weekly counts, negative binomial
  (dispersion 1–1.5) around a seasonal mean (average level 2–160 persons a week,
  amplitude up to ×2.2 at the peak, the peak moving up to ±4 weeks from year to year, a
  mild trend);
* one outbreak per series in years 2–3: start week, size (×1.5–×3 the expected count) and
  duration (2–6 weeks) drawn at random; the extra cases are Poisson;
* the weeks of years 2–3 are judged (year 1 is history only).

Per detector: the false-alarm rate per region-week outside outbreaks (red, and red or
yellow), the share of outbreaks detected (a red alert in one of its weeks) and the median
delay from its first week to the first red alert (0: found in its first week), overall
and for the target group (×2 or more, 3 weeks or more, regions with 20 or more cases a
week). ``--e2e`` adds one check through the whole pipeline: ``synth --outbreak`` →
ingest → release → alerts, on a fresh home.

    .venv/bin/python bench/monitor_eval.py [--series 2000] [--seed 1] [--e2e]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # small matrices: threads only contend

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from enclave.indicators._alert_config import AlertConfig, load_alerts  # noqa: E402
from enclave.indicators._detectors import Panel, detect  # noqa: E402
from enclave.noise import discrete_laplace_std, laplace_int  # noqa: E402
from enclave.settings import REPO_POLICIES  # noqa: E402

WEEKS, JUDGED_FROM = 156, 52
LEVELS = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0)


@dataclass(frozen=True)
class Season:
    """A batch of simulated series (weeks × series) and their outbreaks."""

    released: np.ndarray
    level: np.ndarray  # average weekly count per series
    start: np.ndarray
    weeks: np.ndarray
    factor: np.ndarray


def deployed_scale() -> float:
    """The discrete Laplace scale the indicators use (k = 2, ε = 1.6 a year), as OpenDP
    calibrates it."""
    from enclave.indicators import load_indicators

    ind = load_indicators(REPO_POLICIES / "indicators.toml")[0]
    _, scale = laplace_int([0], sensitivity=ind.periods_per_year, epsilon=ind.epsilon_per_year)
    return float(scale)


def simulate(rng: np.random.Generator, n: int, scale: float) -> Season:
    t = np.arange(WEEKS)[:, None]
    level = rng.choice(LEVELS, n)
    amp = rng.uniform(0.0, 0.8, n)
    peak = rng.uniform(0, 52, n)
    shift = rng.uniform(-4, 4, (3, n))[np.minimum(t // 52, 2), np.arange(n)]
    trend = rng.uniform(-0.1, 0.1, n)
    season = np.exp(amp * np.cos(2 * np.pi * (t - peak - shift) / 52) + trend * t / 52)
    mu = level * season / np.exp(amp**2 / 4)  # average level about `level`
    phi = rng.uniform(1.0, 1.5, n)
    size = mu / np.maximum(phi - 1.0, 1e-6)
    counts = np.where(
        phi > 1.0001, rng.negative_binomial(size, size / (size + mu)), rng.poisson(mu)
    )
    dur = rng.integers(2, 7, n)
    start = rng.integers(JUDGED_FROM + 4, WEEKS - dur + 1)
    factor = rng.uniform(1.5, 3.0, n)
    inside = (t >= start) & (t < start + dur)
    counts = counts + np.where(inside, rng.poisson((factor - 1.0) * mu), 0)
    q = math.exp(-1.0 / scale)
    noise = rng.geometric(1 - q, counts.shape) - rng.geometric(1 - q, counts.shape)
    released = np.maximum(0, counts + noise).astype(float)
    return Season(released, level, start, dur, factor)


def run_detectors(season: Season, scale: float, cfg: AlertConfig) -> dict[str, np.ndarray]:
    """Level per detector: 2 alert, 1 warning, 0 none (weeks × series)."""
    shape = season.released.shape
    se = np.full(shape, discrete_laplace_std(scale))
    panel = Panel(season.released, se, np.full(shape, scale), np.ones(shape, bool))
    rank = {"alert": 2, "warning": 1, "none": 0}
    out = {}
    for name, verdicts in detect(panel, cfg).items():
        out[name] = np.array([[rank[v.level] for v in row] for row in verdicts])
    return out


def score(levels: np.ndarray, s: Season) -> dict[str, np.ndarray]:
    t = np.arange(WEEKS)[:, None]
    inside = (t >= s.start) & (t < s.start + s.weeks)
    judged = (t >= JUDGED_FROM) & ~inside
    red = levels == 2
    first = np.where(red & inside, t, WEEKS).min(0)
    return {
        "fa_red": (red & judged).sum(0),
        "fa_any": ((levels >= 1) & judged).sum(0),
        "judged": judged.sum(0),
        "found": first < WEEKS,
        "delay": np.where(first < WEEKS, first - s.start, -1),
    }


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def table(results: dict[str, list[dict[str, np.ndarray]]], seasons: list[Season]) -> list[dict]:
    level = np.concatenate([s.level for s in seasons])
    weeks = np.concatenate([s.weeks for s in seasons])
    factor = np.concatenate([s.factor for s in seasons])
    target = (factor >= 2.0) & (weeks >= 3) & (level >= 20)
    rows = []
    for name, parts in results.items():
        got = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        delays = got["delay"][got["found"] & target]
        rows.append(
            {
                "detector": name,
                "false_alarm_red": got["fa_red"].sum() / got["judged"].sum(),
                "false_alarm_any": got["fa_any"].sum() / got["judged"].sum(),
                "detected_all": got["found"].mean(),
                "detected_target": got["found"][target].mean(),
                "median_delay_target": float(statistics.median(delays)) if len(delays) else None,
                "target_outbreaks": int(target.sum()),
            }
        )
    return rows


def print_table(rows: list[dict], n_series: int, scale: float, seconds: float) -> None:
    print(
        f"{n_series} simulated series × {WEEKS - JUDGED_FROM} judged weeks "
        f"({n_series * (WEEKS - JUDGED_FROM):,} region-weeks, {n_series} outbreaks, "
        f"{rows[0]['target_outbreaks']} in the target group); noise: discrete Laplace "
        f"scale {scale:g} (SE {discrete_laplace_std(scale):.2f}); {seconds:.0f} s"
    )
    head = ("detector", "false alarm (red)", "false alarm (red+yellow)", "detected (all)",
            "detected (target)", "median delay (target, weeks)")  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        delay = "-" if r["median_delay_target"] is None else f"{r['median_delay_target']:g}"
        cells = (r["detector"], _pct(r["false_alarm_red"]), _pct(r["false_alarm_any"]),
                 _pct(r["detected_all"]), _pct(r["detected_target"]), delay)  # fmt: skip
        print("| " + " | ".join(cells) + " |")


def evaluate(n_series: int, seed: int, cfg: AlertConfig, batch: int = 200) -> None:
    scale = deployed_scale()
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    seasons, results = [], {}
    for i in range(0, n_series, batch):
        s = simulate(rng, min(batch, n_series - i), scale)
        seasons.append(s)
        for name, levels in run_detectors(s, scale, cfg).items():
            results.setdefault(name, []).append(score(levels, s))
    print_table(table(results, seasons), n_series, scale, time.perf_counter() - started)


E2E_OUTBREAKS = (
    "New Taipei:2024-01-08:3:2",
    "Taipei:2024-01-01:3:2",
    "Taichung:2024-06-03:3:2:emergency",
)


def _e2e_home(tmp: Path, persons: int, seed: int) -> tuple[Any, list[dict]]:
    from enclave.service import backfill_indicators
    from enclave.settings import Settings
    from enclave.store import open_store
    from pseudonymize.ingest import ingest
    from pseudonymize.synth import Outbreak, generate

    settings = Settings.from_environ({"ENCLAVE_HOME": str(tmp / "home")})
    outbreaks = tuple(Outbreak.parse(o) for o in E2E_OUTBREAKS)
    made = generate(tmp / "x", persons, seed=seed, outbreaks=outbreaks)
    manifest = ingest(tmp / "x", "nhi", settings)
    with open_store(settings) as store:
        store.audit_log.record_manifest(manifest.to_dict())
    backfill_indicators(settings)
    return settings, list(made.outbreaks)


def end_to_end(persons: int = 20_000, seed: int = 1) -> None:
    """synth --outbreak → ingest → release --all → alerts on a fresh home: are the
    injected outbreaks found, and how often does anything else alert?"""
    import datetime as dt
    import tempfile

    from enclave.indicators import alerts

    with tempfile.TemporaryDirectory() as tmp:
        settings, made = _e2e_home(Path(tmp), persons, seed)
        rows = alerts(settings)["alerts"]
    print(f"\nend to end: {persons:,} persons, seed {seed}, {len(rows):,} cells")
    inside = set()
    for o in made:
        start = dt.date.fromisoformat(o["start"])
        weeks = {(start + dt.timedelta(days=7 * i)).isoformat() for i in range(o["weeks"])}
        print(f"  --outbreak {o['region']}:{o['start']}:{o['weeks']}:{o['factor']:g}:"
              f"{o['indicator']} ({o['added_claims']} claims added)")  # fmt: skip
        for r in rows:
            if (
                r["indicator"] == o["indicator"]
                and r["region"] == o["region"]
                and r["week"] in weeks
            ):
                inside.add(id(r))
                print(f"    {r['week']} observed {r['observed']:g}, expected "
                      f"{r['expected']:.1f}, threshold {r['threshold']:g}: {r['level']}")  # fmt: skip
    rest = [r for r in rows if r["status"] == "ok" and id(r) not in inside]
    for name in ("farrington", "cusum", "ears"):
        red = sum(r["detectors"][name]["level"] == "alert" for r in rest)
        print(
            f"  {name}: red in {red} of {len(rest):,} other cells with a baseline "
            f"({_pct(red / max(len(rest), 1))}; the data's own flu and COVID waves included)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--e2e", action="store_true", help="also run synth → alerts once")
    args = parser.parse_args()
    cfg = load_alerts(REPO_POLICIES / "indicators.toml")
    evaluate(args.series, args.seed, cfg)
    if args.e2e:
        end_to_end()


if __name__ == "__main__":
    main()
