"""The routing data sets: loading, cross-file deduplication and the splits.

Each row becomes an ``Example``: the prompt a user would send, the strong and the weak model's
quality on it (0/1 correctness or a graded score in [0, 1]) and a split key (the normalised
question stem, options cut off), so that the same question in two files (MMLU-Pro's ``ori_mmlu``
rows are MMLU questions with other options) always lands on the same side of every split.
Within a file, rows are deduplicated on their whole normalised prompt: two questions that share
a stem but not their options (or a few-shot preamble, as in RouterBench) are different prompts.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# PROVENANCE.md "use" column: the files a shipped model may be trained on.
TRAINING_FILES = {
    "mmlu": "routellm_mmlu_gpt4_vs_mixtral.jsonl",
    "gsm8k": "routellm_gsm8k_gpt4_vs_mixtral.jsonl",
    "mtbench": "routellm_mtbench_gpt4_vs_mixtral.jsonl",
    "mmlu_pro": "mmlu_pro_multimodel_correctness.jsonl",
}
# Evaluation only (AlpacaEval: CC BY-NC data; RouterBench subset: no licence stated).
EVALUATION_FILES = {
    "alpacaeval": "alpacaeval2_winprob_vs_gpt4turbo.jsonl",
    "routerbench": "routerbench_subset_arc_mbpp_winogrande.jsonl",
}
PAIRS = {
    "mmlu": ("gpt-4-1106-preview", "Mixtral-8x7B-Instruct-v0.1"),
    "gsm8k": ("gpt-4-1106-preview", "Mixtral-8x7B-Instruct-v0.1"),
    "mtbench": ("gpt-4-1106-preview", "Mixtral-8x7B-Instruct-v0.1"),
    "mmlu_pro": ("gpt-4o-2024-05-13", "Meta-Llama-3.1-8B-Instruct"),
    "alpacaeval": ("gpt-4-1106-preview", "gpt-3.5-turbo-1106"),
    "routerbench": ("gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat"),
}
SPLIT_SEED = "keyroute-router-v1"


@dataclass(frozen=True, slots=True)
class Example:
    source: str
    group: str  # MMLU subject, MMLU-Pro category, MT-Bench category, RouterBench eval...
    key: str  # split key: the normalised question stem
    text: str  # the last user turn
    strong: float
    weak: float
    origin: str = ""  # MMLU-Pro: where the question comes from (``ori_mmlu-<subject>``...)


_SPACE = re.compile(r"\s+")


def normalised(text: str) -> str:
    """Lower-cased, whitespace collapsed."""
    return _SPACE.sub(" ", text).strip().lower()


def dedup_key(question: str) -> str:
    """The normalised question stem: options and cue cut off (the split key)."""
    return normalised(question.split("\nA. ", 1)[0].split("\nA) ", 1)[0])


def _rows(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _mmlu(path: Path) -> Iterator[Example]:
    for r in _rows(path):
        if r["routellm_contaminated"]:
            continue
        text = str(r["prompt"])
        yield Example(
            "mmlu",
            str(r["subject"]),
            dedup_key(text),
            text,
            float(r["gpt4_1106_correct"]),
            float(r["mixtral_8x7b_correct"]),  # type: ignore[arg-type]
        )


def _gsm8k(path: Path) -> Iterator[Example]:
    for r in _rows(path):
        if r["routellm_contaminated"]:
            continue
        text = str(r["prompt"])
        yield Example(
            "gsm8k",
            "gsm8k",
            dedup_key(text),
            text,
            float(r["gpt4_1106_correct"]),
            float(r["mixtral_8x7b_correct"]),  # type: ignore[arg-type]
        )


def _mtbench(path: Path) -> Iterator[Example]:
    for r in _rows(path):
        if r["routellm_contaminated"]:
            continue
        text = str(r["turns"][0])  # type: ignore[index]
        strong = (float(r["gpt4_1106_score_turn1"]) + float(r["gpt4_1106_score_turn2"])) / 20  # type: ignore[arg-type]
        weak = (float(r["mixtral_8x7b_score_turn1"]) + float(r["mixtral_8x7b_score_turn2"])) / 20  # type: ignore[arg-type]
        yield Example("mtbench", str(r["category"]), dedup_key(text), text, strong, weak)


def mmlu_pro_prompt(question: str, options: list[str]) -> str:
    letters = "ABCDEFGHIJ"
    lines = [question.strip()] + [f"{letters[i]}. {o}" for i, o in enumerate(options)]
    return "\n".join(lines) + "\nAnswer:"


def _mmlu_pro(path: Path) -> Iterator[Example]:
    strong_model, weak_model = PAIRS["mmlu_pro"]
    for r in _rows(path):
        correct = r["correct"]
        assert isinstance(correct, dict)
        if r["question_revised_between_runs"] or correct.get(strong_model) is None:
            continue
        if correct.get(weak_model) is None:
            continue
        text = mmlu_pro_prompt(str(r["question"]), list(r["options"]))  # type: ignore[call-overload]
        yield Example(
            "mmlu_pro",
            str(r["category"]),
            dedup_key(str(r["question"])),
            text,
            float(correct[strong_model]),
            float(correct[weak_model]),
            str(r["src"]),
        )


def _alpacaeval(path: Path) -> Iterator[Example]:
    _, weak_model = PAIRS["alpacaeval"]
    for r in _rows(path):
        p = r["p_beats_gpt4_1106_preview"]
        assert isinstance(p, dict)
        if p.get(weak_model) is None:
            continue
        text = str(r["instruction"])
        # the strong model is the judge's baseline: against itself its quality is 0.5
        yield Example(
            "alpacaeval", str(r["dataset"]), dedup_key(text), text, 0.5, float(p[weak_model])
        )


def _routerbench(path: Path) -> Iterator[Example]:
    strong_model, weak_model = PAIRS["routerbench"]
    for r in _rows(path):
        perf = r["performance"]
        assert isinstance(perf, dict)
        if perf.get(strong_model) is None or perf.get(weak_model) is None:
            continue
        prompt = r["prompt"]
        text = "\n".join(str(p) for p in prompt) if isinstance(prompt, list) else str(prompt)
        yield Example(
            "routerbench",
            str(r["eval_name"]),
            dedup_key(text),
            text,
            float(perf[strong_model]),
            float(perf[weak_model]),
        )


LOADERS = {
    "mmlu": _mmlu,
    "gsm8k": _gsm8k,
    "mtbench": _mtbench,
    "mmlu_pro": _mmlu_pro,
    "alpacaeval": _alpacaeval,
    "routerbench": _routerbench,
}


def load(root: Path, sources: tuple[str, ...]) -> dict[str, list[Example]]:
    """The examples of ``sources``, each file deduplicated on its whole normalised prompt (first
    occurrence kept)."""
    files = TRAINING_FILES | EVALUATION_FILES
    out: dict[str, list[Example]] = {}
    for source in sources:
        path = root / files[source]
        if not path.is_file():
            raise SystemExit(f"missing routing data file: {path} (set ROUTING_DATA=...)")
        seen: set[str] = set()
        kept = []
        for example in LOADERS[source](path):
            prompt = normalised(example.text)
            if prompt not in seen:
                seen.add(prompt)
                kept.append(example)
        out[source] = kept
    return out


def bucket(key: str) -> float:
    """A uniform number in [0, 1) fixed by the split key: the same question, wherever it
    occurs, always falls in the same split."""
    digest = hashlib.blake2b(f"{SPLIT_SEED}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_of(key: str) -> str:
    """``train`` (70%), ``valid`` (15%) or ``test`` (15%)."""
    b = bucket(key)
    return "train" if b < 0.70 else "valid" if b < 0.85 else "test"


# MMLU subjects whose strong-model outcomes are not a measure of the model: GPT-4-1106 answers
# 2.7% of high_school_mathematics right in RouteLLM's file, far below the 25% of a guess, so
# its answers there were graded wrongly; a router that reads the prompt cannot know that.
MISGRADED_SUBJECTS = frozenset({"high_school_mathematics"})


def held_out_subjects(subjects: list[str], count: int = 10) -> set[str]:
    """The MMLU subjects whose every question is held out (fixed by the split seed)."""
    return set(sorted(set(subjects), key=lambda s: bucket(f"subject:{s}"))[:count])
