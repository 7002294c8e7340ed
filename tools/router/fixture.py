"""Write the held-out evaluation fixture the test suite ships (``tests/fixtures/router``).

300 MMLU prompts (GPT-4-1106 against Mixtral-8x7B correctness, RouteLLM's Apache-2.0 data over
MIT-licensed MMLU) drawn from the random *test* split, which no shipped model is trained on, so
a test can measure the scorer's APGR through the running gateway and compare it with the
offline number (``python -m tools.router.evaluate --fixture``) without the routing data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.router import data

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "router" / "heldout_mmlu.jsonl"
SIZE = 300


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/routing-data"))
    args = parser.parse_args(argv)
    rows = data.load(args.data, ("mmlu",))["mmlu"]
    test = [e for e in rows if data.split_of(e.key) == "test"]
    chosen = sorted(test, key=lambda e: data.bucket(f"fixture:{e.key}"))[:SIZE]
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    with FIXTURE.open("w", encoding="utf-8") as out:
        for e in chosen:
            row = {
                "source": e.source,
                "subject": e.group,
                "prompt": e.text,
                "strong": e.strong,
                "weak": e.weak,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(chosen)} of {len(test)} held-out MMLU prompts to {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
