"""cai: a Constitutional AI / RLAIF faithfulness engine."""

from __future__ import annotations

import os
import sys

__version__ = "0.1.0"

WITHOUT_BITSANDBYTES_ENV = "CAI_WITHOUT_BITSANDBYTES"


def hide_bitsandbytes() -> None:
    """Make bitsandbytes look not installed, in this process and in the processes it spawns.

    Why: sentence-transformers imports transformers' trainer utilities, which import peft, which
    imports bitsandbytes whenever it is installed (the `qlora` extra). On a CPU with AVX512-BF16
    that import asks the Hugging Face Hub for a remote kernel (kernels-community), warns that it
    could not verify or fetch it ("… trust_remote_code") and costs one to two seconds — on every
    command that loads a model, though only QLoRA (`policy.load_in_4bit`, `cai train`) uses it.
    transformers and peft ask `importlib.util.find_spec`, which answers None for a module set to
    None in sys.modules, so they take the no-bitsandbytes path. Call it before transformers is
    imported; the CLI does (`cai.cli.main`), library users who do not call it keep bitsandbytes.
    """
    if sys.modules.get("bitsandbytes") is None:  # not imported yet (importing it later is the cost)
        sys.modules["bitsandbytes"] = None  # type: ignore[assignment]
        os.environ[WITHOUT_BITSANDBYTES_ENV] = "1"  # spawned workers (generate's cpu_workers) inherit it


if os.environ.get(WITHOUT_BITSANDBYTES_ENV) == "1":  # a process spawned by a CLI that hid it
    hide_bitsandbytes()
