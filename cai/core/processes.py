"""Process lifetime and exclusive access to run directories.

- Worker processes die with their parent (`die_with_parent`): a `kill -9` of `cai generate ...
  cpu_workers=2` used to leave both workers (~720 MB each) running with nobody to read their
  results. On Linux the kernel sends the worker SIGKILL when its parent dies (prctl
  PR_SET_PDEATHSIG); elsewhere a daemon thread polls the parent pid once a second.
- One process writes a run directory at a time (`lock_run_dir`): two `--resume` runs of one
  directory each redid every pending question (every teacher call paid twice, ids written twice).
  The lock is an exclusive, non-blocking `flock` on `RUN_DIR/.cai-lock`; the kernel drops it when
  the holder exits or is killed, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from cai.core.errors import UserError

LOCK_NAME = ".cai-lock"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_S = 1.0

_HELD: dict[Path, int] = {}  # run directory (resolved) → descriptor of its lock file, held by this process


# ----------------------------------------------------------------------------------- worker lifetime
def die_with_parent(parent_pid: int) -> None:
    """Call first thing in a worker process: the worker ends when `parent_pid` (the process that
    started it) dies, however it dies.

    On Linux, PR_SET_PDEATHSIG follows the *thread* that started the worker, so the pool must start
    its workers from a thread that lives as long as the pool (cai.stages.cpu_pool starts them all
    from the thread that creates it)."""
    if sys.platform.startswith("linux") and _kernel_kills_orphan():
        if os.getppid() != parent_pid:  # the parent died before the request took effect
            os._exit(1)
        return
    watch_parent(parent_pid)


def _kernel_kills_orphan() -> bool:
    """Ask Linux for SIGKILL when the parent dies; False where the call is unavailable."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent_pid: int, interval_s: float = PARENT_POLL_S) -> threading.Thread:
    """The portable fallback: a daemon thread that ends this process once its parent pid changes
    (an orphan is re-parented to init or a subreaper)."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(1)

    thread = threading.Thread(target=watch, name="cai-parent-watch", daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------------------------- run dir lock
def lock_run_dir(run_dir: Path) -> None:
    """Hold RUN_DIR's lock until `unlock_run_dir` or the end of this process; UserError (exit 2)
    when another process holds it. Re-entrant within one process. Where the platform or file system
    has no flock (Windows, some network mounts), the run goes ahead unlocked."""
    key = Path(run_dir).resolve()
    if key in _HELD:
        return
    try:
        import fcntl
    except ImportError:
        return
    path = key / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise UserError(f"{run_dir}: cannot create its lock file {LOCK_NAME}: {e.strerror or e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise UserError(f"{run_dir}: another cai process{holder} is writing this run directory; wait for it to end "
                        "(or stop it), then retry") from None
    except OSError:
        os.close(fd)
        return
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # for the message another process shows, not the lock itself
    _HELD[key] = fd


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def unlock_run_dir(run_dir: Path) -> None:
    """Release RUN_DIR's lock if this process holds it (closing the descriptor drops the flock)."""
    fd = _HELD.pop(Path(run_dir).resolve(), None)
    if fd is not None:
        os.close(fd)
