"""Issue #21 point 5: processes and concurrency. Worker processes end when their parent is killed
(`kill -9` of generate used to orphan its cpu_workers), and one process writes a run directory at
a time (two `--resume` runs of one directory both redid every pending question). Kills and lock
holders are real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cai.cli import cli
from cai.core.errors import UserError
from cai.core.processes import LOCK_NAME, lock_run_dir, unlock_run_dir
from cai.core.runs import read_jsonl, sha256_path, start_run

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path]), "HF_HUB_OFFLINE": "1",
       "OMP_NUM_THREADS": "1"}
PAGE = "Revenue for fiscal 2024 was $412.3 million, compared with $390.1 million in fiscal 2023.\n"

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads children from /proc")


def _children(pid: int, marker: str = "spawn_main") -> set[int]:
    """Live processes whose parent is `pid` and whose command line holds `marker` (zombies excluded)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        if int(fields[1]) == pid and fields[0] != "Z" and marker in cmdline:
            found.add(int(entry.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if state[state.rindex(")") + 2] != "Z":
            alive.add(pid)
    return alive


def _wait_for(predicate, limit_s: float = 120.0) -> bool:
    """Poll until `predicate()` holds (a deadline against hanging, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


# ----------------------------------------------------------------------------------- worker lifetime
POOL_PARENT = textwrap.dedent("""
    import multiprocessing as mp
    import os
    import sys
    import time
    from concurrent.futures import ProcessPoolExecutor

    from cai.core import processes

    def start(parent, how):
        if how == "poll":
            processes.watch_parent(parent, interval_s=0.1)
        else:
            processes.die_with_parent(parent)

    def slow_pid():
        time.sleep(0.2)
        return os.getpid()

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"), initializer=start,
                                   initargs=(os.getpid(), sys.argv[1]))
        pids = set()
        while len(pids) < 2:  # both workers have run their initializer
            pids |= {f.result() for f in [pool.submit(slow_pid) for _ in range(4)]}
        print(" ".join(map(str, sorted(pids))), flush=True)
        time.sleep(600)
""")


@linux_only
@pytest.mark.parametrize("how", ["prctl", "poll"])
def test_pool_workers_end_when_their_parent_is_killed(tmp_path, how):
    script = tmp_path / "parent.py"
    script.write_text(POOL_PARENT)
    parent = subprocess.Popen([sys.executable, str(script), how], env=ENV, stdout=subprocess.PIPE)
    try:
        workers = {int(pid) for pid in parent.stdout.readline().split()}
        assert len(workers) == 2 and _children(parent.pid) == workers
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _wait_for(lambda: not _alive(workers)), f"orphaned workers still alive: {_alive(workers)}"
    finally:
        parent.kill()


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory) -> Path:
    from rag.ingest import ingest

    work = tmp_path_factory.mktemp("proc-corpus")
    (work / "corpus").mkdir()
    (work / "corpus" / "acme-2024.txt").write_text(PAGE * 3)
    ingest([work / "corpus"], work / "index", progress=False)
    return work / "index"


def _generate_config(tmp_path: Path, index: Path, n_questions: int) -> Path:
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What was revenue in fiscal {2000 + i}?"})
                                 + "\n" for i in range(n_questions)))
    cfg = tmp_path / "g.yaml"
    cfg.write_text(json.dumps({"questions": str(questions), "index": str(index), "runs_dir": str(tmp_path / "runs"),
                               "teacher": {"backend": "grounded"}}))
    return cfg


@linux_only
@pytest.mark.slow
def test_kill_9_of_generate_leaves_no_cpu_worker_behind(tmp_path, tiny_index):
    cfg = _generate_config(tmp_path, tiny_index, 3000)
    proc = subprocess.Popen([sys.executable, "-m", "cai.cli", "generate", str(cfg), "cpu_workers=2"], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Workers run whole grounded questions: a record means both have loaded their models.
        def working() -> bool:
            records = list((tmp_path / "runs").glob("generate-*/records.jsonl"))
            return bool(records) and records[0].stat().st_size > 0 and len(_children(proc.pid)) == 2

        assert _wait_for(working, 300), proc.stderr.read().decode() if proc.poll() is not None else "no record"
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _wait_for(lambda: not _alive(workers)), f"orphaned workers still alive: {_alive(workers)}"
    finally:
        proc.kill()


# ------------------------------------------------------------------------------------- run dir lock
HOLDER = textwrap.dedent("""
    import sys
    from cai.core.processes import lock_run_dir
    lock_run_dir(sys.argv[1])
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes stdin (or kills this process)
""")


class LockHolder:
    """Another process holding RUN_DIR's lock, as a second `cai ... --resume` would."""

    def __init__(self, run_dir: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], env=ENV, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        assert self.proc.stdout.readline().strip() == b"locked"

    def __enter__(self) -> LockHolder:
        return self

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def test_lock_names_the_directory_and_holder_and_dies_with_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    empty = sha256_path(run)
    with LockHolder(run) as holder:
        with pytest.raises(UserError) as caught:
            lock_run_dir(run)
        [line] = caught.value.lines()
        assert line.startswith(f"{run}: another cai process (pid {holder.proc.pid}) is writing this run directory")
    lock_run_dir(run)  # released when the holder exited
    unlock_run_dir(run)
    holder = LockHolder(run)
    holder.proc.send_signal(signal.SIGKILL)  # a killed holder leaves no stale lock
    holder.proc.wait()
    lock_run_dir(run)
    unlock_run_dir(run)
    assert (run / LOCK_NAME).is_file() and sha256_path(run) == empty  # the lock file is no run content


def test_second_generate_resume_of_a_run_exits_2_and_writes_nothing(tmp_path, tiny_index):
    cfg = _generate_config(tmp_path, tiny_index, 3)
    first = CliRunner().invoke(cli, ["generate", str(cfg)])
    assert first.exit_code == 0, first.output
    run_dir = Path(first.output.strip().splitlines()[-1])
    records = (run_dir / "records.jsonl").read_bytes()
    (run_dir / "records.jsonl").write_bytes(records.split(b"\n", 1)[1])  # one question pending again

    def files() -> dict[str, bytes]:  # the lock file holds its holder's pid: not run data
        return {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and p.name != LOCK_NAME}

    before = files()
    with LockHolder(run_dir):
        second = CliRunner().invoke(cli, ["generate", str(run_dir / "config.yaml"), "--resume", str(run_dir)])
        assert second.exit_code == 2, second.output
        assert f"error: {run_dir}: another cai process" in second.output
        assert files() == before  # the manifest's status untouched too
    third = CliRunner().invoke(cli, ["generate", str(run_dir / "config.yaml"), "--resume", str(run_dir)])
    assert third.exit_code == 0, third.output
    ids = [obj["id"] for _, obj in read_jsonl(run_dir / "records.jsonl")]
    assert sorted(ids) == ["q0", "q1", "q2"]  # the pending question done once


def test_second_train_resume_of_a_run_exits_2(tmp_path, tiny_index):
    from cai.core.configs import load_config

    gen = CliRunner().invoke(cli, ["generate", str(_generate_config(tmp_path, tiny_index, 2))])
    assert gen.exit_code == 0, gen.output
    cfg = tmp_path / "t.yaml"
    cfg.write_text(json.dumps({"stage": "train", "data": gen.output.strip().splitlines()[-1],
                               "policy": {"model": "cai-smoke-policy"}, "stages": ["sft"],
                               "runs_dir": str(tmp_path / "train-runs")}))
    run_dir = start_run("train", load_config(cfg))
    unlock_run_dir(run_dir)
    with LockHolder(run_dir):
        result = CliRunner().invoke(cli, ["train", str(cfg), "--resume", str(run_dir)])
    assert result.exit_code == 2, result.output
    assert f"error: {run_dir}: another cai process" in result.output
    assert not (run_dir / "sft").exists()
