"""Start-up cost of the `cai` command line: wall time and import time of light commands, and the
model stack's import with and without bitsandbytes (issue #21 point 10).

Why both measures: wall time is what a user waits for (interpreter start + imports + the command);
import time (`python -X importtime`, the sum of the top-level imports' cumulative times) is the part
lazy imports can remove. Each command runs in a fresh interpreter, several times; medians are
reported because the development machine is shared and single runs are noisy.

    python bench/import_time.py                                  # this checkout
    python bench/import_time.py --source /tmp/old --source .     # before / after, runs interleaved
    python bench/import_time.py --model-stack    # also: import sentence-transformers with/without bitsandbytes

Each `--source` tree is run as the working directory (first on sys.path with `python -c`), so the
same interpreter and packages measure an older tree: extract one with
`git archive HEAD~1 cai rag rewards constitution | tar -x -C /tmp/old`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "cai --help": ["--help"],
    "cai constitution validate finance-10k": ["constitution", "validate", "finance-10k"],
}
# What the `cai` console script does (cai.cli.main), so an older --source tree runs its own main.
RUN_CLI = "import sys; sys.argv[0] = 'cai'; from cai.cli import main; main()"
MODEL_STACK = {
    "import sentence_transformers (bitsandbytes importable)": "import sentence_transformers",
    "import sentence_transformers (bitsandbytes hidden)":
        "import sys; sys.modules['bitsandbytes'] = None; import sentence_transformers",
}


def import_ms(stderr: str) -> float:
    """Total import time in ms from `-X importtime` output: the top-level imports' cumulative times."""
    total = 0
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            _, cumulative, name = line.split("|")
            if not name.startswith("  ") and cumulative.strip().isdigit():  # depth 0: not counted twice
                total += int(cumulative)
    return total / 1000


def run_once(code: str, args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall ms, import ms) of one fresh interpreter running `code` with `args` in `cwd` (with -c, the
    working directory comes first on sys.path: it must be the tree measured)."""
    cmd = [sys.executable, "-X", "importtime", "-c", code, *args]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args) or code}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return wall, import_ms(done.stderr)


def measure(jobs: list[tuple[str, list[str], Path]], env: dict[str, str], runs: int) -> list[tuple[float, float]]:
    """Median (wall ms, import ms) of each (code, args, tree) job. Runs are interleaved, job after
    job, so that load from other processes on a shared machine falls on every job alike."""
    for code, args, cwd in jobs:
        run_once(code, args, env, cwd)  # warm-up: .pyc files and the page cache
    samples: list[list[tuple[float, float]]] = [[] for _ in jobs]
    for _ in range(runs):
        for k, (code, args, cwd) in enumerate(jobs):
            samples[k].append(run_once(code, args, env, cwd))
    return [(statistics.median(w for w, _ in s), statistics.median(i for _, i in s)) for s in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, action="append", default=None,
                        help="Tree to measure (repeatable; default: this checkout).")
    parser.add_argument("--runs", type=int, default=9, help="Runs per command (median reported).")
    parser.add_argument("--model-stack", action="store_true", help="Also time the model stack's import.")
    parser.add_argument("--model-runs", type=int, default=3, help="Runs per model-stack import.")
    args = parser.parse_args()
    if args.runs < 1 or args.model_runs < 1:
        parser.error("--runs and --model-runs must be at least 1")
    trees = [tree.resolve() for tree in args.source or [ROOT]]
    for tree in trees:
        if not ((tree / "cai" / "cli.py").is_file() or (tree / "cai" / "cli" / "__init__.py").is_file()):
            parser.error(f"--source {tree}: no cai/cli.py or cai/cli/ there")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("CAI_WITHOUT_BITSANDBYTES", None)

    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; median of {args.runs} interleaved runs; columns: wall ms / import ms")
    print("| command | " + " | ".join(str(t) for t in trees) + " |\n| --- |" + " ---: |" * len(trees))
    jobs = [(RUN_CLI, cli_args, tree) for cli_args in COMMANDS.values() for tree in trees]
    results = iter(measure(jobs, env, args.runs))
    for name in COMMANDS:
        cells = [f"{wall:.0f} / {imports:.0f}" for wall, imports in (next(results) for _ in trees)]
        print(f"| `{name}` | " + " | ".join(cells) + " |", flush=True)
    if args.model_stack:
        results = iter(measure([(code, [], trees[-1]) for code in MODEL_STACK.values()], env, args.model_runs))
        for name in MODEL_STACK:
            wall, imports = next(results)
            print(f"| `{name}` ({trees[-1].name}) | {wall:.0f} / {imports:.0f} |", flush=True)


if __name__ == "__main__":
    main()
