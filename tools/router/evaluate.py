"""Evaluate the difficulty scorer on held-out data: ``make router-eval``.

Prints, for each split, APGR, CPT(50%) and CPT(80%) with bootstrap 95% confidence intervals and
the saving against sending every call to the strong model, for the scorer beside three baselines
(random, length-only, oracle). Thresholds for the saving are chosen on validation data only: the
threshold at which the router's validation PGR first reaches 80% is applied to the test prompts.

Splits:
- random held-out: the shipped model on the test split of each training source;
- whole MMLU subjects held out: a model trained (same hyperparameters) without 10 subjects
  (their MMLU rows and MMLU-Pro's copies of them), tested on those subjects;
- cross-dataset: a model trained without GSM8K, tested on all of GSM8K; the shipped model on the
  evaluation-only AlpacaEval and RouterBench files.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keyroute.router import Scorer, metrics
from tools.router import data
from tools.router.fit import FeatureCache, Params, featurise, fit, scorer, scores

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    name: str
    pair: str
    test: list[data.Example]
    valid: list[data.Example]
    model: Scorer
    cost_ratio: float  # weak / strong cost per call


def _cost_ratios(root: Path) -> dict[str, float]:
    """Weak/strong cost per call: RouterBench's measured per-call costs for the GPT-4-1106
    pairs, the catalogue's list prices (input + output per million tokens) for gpt-4o."""
    import json

    totals: dict[str, float] = {}
    with (root / data.EVALUATION_FILES["routerbench"]).open(encoding="utf-8") as rows:
        for line in rows:
            for model, cost in json.loads(line)["cost_usd"].items():
                if cost is not None:
                    totals[model] = totals.get(model, 0.0) + float(cost)
    catalogue = tomllib.loads((ROOT / "src/keyroute/catalogue/models.toml").read_text())
    price = {
        m["id"]: m["prices"][-1]["input"] + m["prices"][-1]["output"]
        for m in catalogue["models"]
        if m.get("prices")
    }
    gpt4 = totals["gpt-4-1106-preview"]
    return {
        "mixtral": totals["mistralai/mixtral-8x7b-chat"] / gpt4,
        "gpt35": totals["gpt-3.5-turbo-1106"] / gpt4,
        "llama8b": price["llama-3.1-8b-instant"] / price["gpt-4o"],
    }


def _threshold_for_pgr(
    scores_: np.ndarray, examples: Sequence[data.Example], target: float
) -> float:
    c = metrics.curve(scores_, [e.strong for e in examples], [e.weak for e in examples])
    reached = np.flatnonzero(c.pgr >= target)
    return float(c.threshold[reached[0]]) if len(reached) else float(c.threshold[-1])


def _row(
    label: str,
    score_fn: Callable[[Sequence[data.Example]], np.ndarray],
    case: Case,
    rounds: int,
) -> str:
    test_scores = score_fn(case.test)
    strong = np.array([e.strong for e in case.test])
    weak = np.array([e.weak for e in case.test])
    report = metrics.bootstrap(test_scores, strong, weak, rounds=rounds)
    threshold = _threshold_for_pgr(score_fn(case.valid), case.valid, 0.8)
    routed = test_scores >= threshold
    share = float(routed.mean())
    pgr = float(
        (np.where(routed, strong, weak).mean() - weak.mean()) / (strong.mean() - weak.mean())
    )
    saving = 1 - (share + (1 - share) * case.cost_ratio)
    return (
        f"| {case.name} | {label} | {report.apgr} | {report.cpt50.value:.3f} "
        f"| {report.cpt80.value:.3f} | {share:.2f} / {pgr:.2f} | {saving:.0%} |"
    )


def _cases(root: Path, featurise: FeatureCache) -> list[Case]:
    loaded = data.load(root, tuple(data.TRAINING_FILES) + tuple(data.EVALUATION_FILES))
    shipped = Scorer.load()
    info = shipped.info["params"]
    params = Params(
        float(info["C"]),
        tuple(info["alpha"]),
        str(info["label"]),
        float(info.get("smoothing", 0.0)),
    )
    training = [e for s in data.TRAINING_FILES for e in loaded[s]]
    valid_all = [e for e in training if data.split_of(e.key) == "valid"]
    ratio = _cost_ratios(root)
    pairs = {s: " vs ".join(data.PAIRS[s]) for s in data.PAIRS}
    cost = {
        "mmlu": ratio["mixtral"],
        "gsm8k": ratio["mixtral"],
        "mtbench": ratio["mixtral"],
        "mmlu_pro": ratio["llama8b"],
        "alpacaeval": ratio["gpt35"],
        "routerbench": ratio["mixtral"],
    }
    cases = []
    for source in ("mmlu", "mmlu_pro", "gsm8k"):
        own = [e for e in loaded[source]]
        cases.append(
            Case(
                f"random held-out: {source}",
                pairs[source],
                [e for e in own if data.split_of(e.key) == "test"],
                [e for e in own if data.split_of(e.key) == "valid"],
                shipped,
                cost[source],
            )
        )

    def retrained(exclude: Callable[[data.Example], bool]) -> tuple[Scorer, list[data.Example]]:
        train = [e for e in training if data.split_of(e.key) == "train" and not exclude(e)]
        valid = [e for e in valid_all if not exclude(e)]
        weights, bias = fit(featurise(train), train, params)
        return scorer(weights, bias, params), valid

    subjects = data.held_out_subjects([e.group for e in loaded["mmlu"]])
    held = [e for e in loaded["mmlu"] if e.group in subjects]
    held_keys = {e.key for e in held}
    held_origins = {f"ori_mmlu-{s}" for s in subjects}
    model, valid = retrained(lambda e: e.key in held_keys or e.origin in held_origins)
    cases.append(
        Case(
            f"held-out MMLU subjects ({len(subjects)})",
            pairs["mmlu"],
            held,
            [e for e in valid if e.source == "mmlu"],
            model,
            cost["mmlu"],
        )
    )
    misgraded = subjects & data.MISGRADED_SUBJECTS
    if misgraded:
        cases.append(
            Case(
                f"held-out MMLU subjects, less {', '.join(sorted(misgraded))}",
                pairs["mmlu"],
                [e for e in held if e.group not in misgraded],
                [e for e in valid if e.source == "mmlu" and e.group not in misgraded],
                model,
                cost["mmlu"],
            )
        )
    model, valid = retrained(lambda e: e.source == "gsm8k")
    cases.append(
        Case(
            "cross-dataset: GSM8K (trained without it)",
            pairs["gsm8k"],
            loaded["gsm8k"],
            valid,
            model,
            cost["gsm8k"],
        )
    )
    for source in ("alpacaeval", "routerbench"):
        cases.append(
            Case(
                f"cross-dataset: {source} (eval-only)",
                pairs[source],
                loaded[source],
                valid_all,
                shipped,
                cost[source],
            )
        )
    return cases


def fixture(path: Path, rounds: int) -> int:
    """The shipped scorer's APGR on a fixture (tests/fixtures/router/heldout_mmlu.jsonl)."""
    import json

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    examples = [
        data.Example("fixture", "", str(i), r["prompt"], float(r["strong"]), float(r["weak"]))
        for i, r in enumerate(rows)
    ]
    model = Scorer.load()
    s = scores(model, featurise(examples))
    report = metrics.bootstrap(
        s, [e.strong for e in examples], [e.weak for e in examples], rounds=rounds
    )
    print(
        f"{path}: {len(rows)} prompts, scorer {model.version}: APGR {report.apgr}, "
        f"CPT(50%) {report.cpt50.value:.3f}, CPT(80%) {report.cpt80.value:.3f}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/routing-data"))
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument(
        "--fixture", type=Path, help="only this JSONL file (prompt, strong, weak per row)"
    )
    args = parser.parse_args(argv)
    if args.fixture is not None:
        return fixture(args.fixture, args.rounds)
    started = time.monotonic()
    cached = FeatureCache()
    cases = _cases(args.data, cached)
    rng = np.random.default_rng(0)
    print(
        "| split | router | APGR [95% CI] | CPT(50%) | CPT(80%) "
        "| strong share / PGR at the validation threshold for PGR 80% | saving vs all-strong |"
    )
    print("|---|---|---|---|---|---|---|")
    for case in cases:

        def model_scores(rows: Sequence[data.Example], m: Scorer = case.model) -> np.ndarray:
            return scores(m, cached(rows))

        routers: list[tuple[str, Callable[[Sequence[data.Example]], np.ndarray]]] = [
            ("keyroute scorer", model_scores),
            ("random", lambda rows: rng.random(len(rows))),
            ("length only", lambda rows: np.array([len(e.text) for e in rows], dtype=float)),
            ("oracle", lambda rows: np.array([e.strong - e.weak for e in rows])),
        ]
        for label, fn in routers:
            print(_row(label, fn, case, args.rounds), flush=True)
    print("\npairs (strong vs weak): " + "; ".join(f"{c.name}: {c.pair}" for c in cases))
    print(f"{time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
