"""Train the shipped difficulty scorer: ``make router-train`` (``python -m tools.router.train``).

Uses only the files whose PROVENANCE "use" column allows training. Rows are deduplicated within
and across files, then split by question (70% train, 15% validation, 15% test). Hyperparameters
are chosen on validation APGR (the mean over MMLU, MMLU-Pro and GSM8K); the calibration that
maps a policy's knob to a threshold comes from the validation prompts. Test prompts are never
read here.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

from keyroute.router import metrics
from keyroute.router.model import PACKAGE_DIR, write
from tools.router import data
from tools.router.fit import Params, calibration_of, featurise, fit, scorer, scores

SELECTION_SOURCES = ("mmlu", "mmlu_pro", "gsm8k")
GRID_C = (0.1, 0.3)
GRID_ALPHA = ((0.5, 0.5, 0.5, 0.0),)
GRID_LABEL = ("gain",)
GRID_SMOOTHING = (0.8,)


def split(examples: dict[str, list[data.Example]]) -> dict[str, list[data.Example]]:
    parts: dict[str, list[data.Example]] = {"train": [], "valid": [], "test": []}
    for rows in examples.values():
        for e in rows:
            parts[data.split_of(e.key)].append(e)
    return parts


def validation_apgr(model: object, rows: list, examples: list[data.Example]) -> dict[str, float]:
    out = {}
    s = scores(model, rows)  # type: ignore[arg-type]
    for source in SELECTION_SOURCES:
        idx = [i for i, e in enumerate(examples) if e.source == source]
        out[source] = metrics.apgr(
            s[idx],
            strong=[examples[i].strong for i in idx],
            weak=[examples[i].weak for i in idx],
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/routing-data"))
    parser.add_argument("--out", type=Path, default=PACKAGE_DIR)
    parser.add_argument("--quick", action="store_true", help="no search: the first grid point")
    parser.add_argument("--c", type=float, help="with --alpha and --smoothing: no search")
    parser.add_argument("--alpha", type=float, help="the same alpha for the n-gram families")
    parser.add_argument("--smoothing", type=float, help="pull of a row's gain to its group's")
    parser.add_argument("--label", choices=("gain", "weak_wrong"), default="gain")
    args = parser.parse_args(argv)

    started = time.monotonic()
    loaded = data.load(args.data, tuple(data.TRAINING_FILES))
    parts = split(loaded)
    train, valid = parts["train"], parts["valid"]
    print(flush=True)
    print(
        f"examples: { ({k: len(v) for k, v in loaded.items()}) }; "
        f"train {len(train)}, validation {len(valid)}, test (not read) {len(parts['test'])}"
    )
    train_rows, valid_rows = featurise(train), featurise(valid)

    grid = [
        Params(c, a, label, smoothing)
        for label, a, c, smoothing in itertools.product(
            GRID_LABEL, GRID_ALPHA, GRID_C, GRID_SMOOTHING
        )
    ]
    if args.quick:
        grid = grid[:1]
    if args.c is not None and args.alpha is not None and args.smoothing is not None:
        a = args.alpha
        grid = [Params(args.c, (a, a, a, 0.0), args.label, args.smoothing)]
    best: tuple[float, Params, dict[str, float], np.ndarray, float] | None = None
    for params in grid:
        w, b = fit(train_rows, train, params)
        found = validation_apgr(scorer(w, b, params), valid_rows, valid)
        mean = float(np.mean(list(found.values())))
        print(
            f"  {params.describe()}: validation APGR {mean:.4f} "
            + " ".join(f"{k}={v:.3f}" for k, v in found.items()),
            flush=True,
        )
        if best is None or mean > best[0]:
            best = (mean, params, found, w, b)
    assert best is not None
    _, params, found, weights, bias = best
    model = scorer(weights, bias, params)
    calibration = calibration_of(model, valid_rows, valid)
    write(
        args.out,
        weights=weights,
        bias=bias,
        alpha=params.alpha,
        calibration=calibration,
        training={
            "model": "logistic regression on hashed n-gram and shape features",
            "params": params.describe(),
            "sources": {k: data.TRAINING_FILES[k] for k in loaded},
            "pairs": {k: list(data.PAIRS[k]) for k in loaded},
            "split_seed": data.SPLIT_SEED,
            "train_examples": len(train),
            "validation_examples": len(valid),
            "validation_apgr": {k: round(v, 4) for k, v in found.items()},
            "calibration": "pooled validation prompts of the training sources",
        },
    )
    print(
        f"chose {params.describe()} (validation APGR {found}); wrote {args.out} "
        f"in {time.monotonic() - started:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
