"""Instructions per request, counted by callgrind: the figure to compare on a noisy machine.

CPU time on a shared machine swings by tens of percent from run to run; callgrind's instruction
counts repeat to about 1 %. This runs ``bench/inprocess.py`` under
``valgrind --tool=callgrind --instr-atstart=no`` and counts only its timed loop (a four-line
library built from ``valgrind/callgrind.h`` switches the instrumentation on and off from
Python), then prints the instructions per request.

By default it counts the request path alone (``inprocess.py --request-path``): the record sinks
are emptied, alerts are off and the periodic background passes (ledger, change poll, last-used
flusher, writers) stretched to minutes, since they run by wall time and valgrind slows the loop
about fifty-fold;
``--with-writers`` keeps the sinks and waits for the writers to store every record instead.
Against another revision: ``PYTHONPATH=<checkout>/src``, as for ``bench/inprocess.py``.

    python bench/instructions.py [--requests 200] [--limits] [--with-writers] [--no-alerts]

Needs ``valgrind`` and a C compiler with valgrind's headers (``valgrind`` and ``libc6-dev``
on Debian).
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile

_HELPER = """
#include <valgrind/callgrind.h>
void keyroute_bench_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void keyroute_bench_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("loop"); }
"""


def build_helper(directory: pathlib.Path) -> pathlib.Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind and a C compiler")
    source = directory / "callgrind_switch.c"
    source.write_text(_HELPER)
    library = directory / "callgrind_switch.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source)], check=True
    )
    return library


def count(requests: int, extra: list[str]) -> int:
    """Instructions in the timed loop of ``requests`` requests."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = pathlib.Path(tmp)
        library = build_helper(directory)
        script = pathlib.Path(__file__).with_name("inprocess.py")
        out = directory / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(script),
            "--requests",
            str(requests),
            "--callgrind",
            str(library),
            *extra,
        ]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dumps = [p for p in directory.iterdir() if p.name.startswith("callgrind.out.")]
        for dump in dumps:
            lines = dump.read_text(errors="replace").splitlines()
            if any(line.endswith("Client Request: loop") for line in lines):
                totals = [line for line in lines if line.startswith("totals:")]
                return int(totals[0].split()[1])
        raise SystemExit("callgrind wrote no dump for the timed loop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--limits", action="store_true", help="a quota, rate limits and budgets")
    parser.add_argument(
        "--with-writers",
        action="store_true",
        help="keep the record sinks and count the writers storing every record",
    )
    parser.add_argument("--no-alerts", action="store_true", help="alerts off")
    args = parser.parse_args()
    extra = ["--limits"] if args.limits else []
    extra += [] if args.with_writers else ["--request-path", "--no-writers"]
    extra += ["--no-alerts"] if args.no_alerts else []
    total = count(args.requests, extra)
    print(f'{{"requests": {args.requests}, "instructions_per_request": {total // args.requests}}}')


if __name__ == "__main__":
    main()
