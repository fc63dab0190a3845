"""The plumbing of the `cai` command line (cai.cli): exit codes, lazy `--help` epilogs, quiet model
loading. Kept apart from the commands so the command module stays readable."""

from __future__ import annotations

import errno
import sys
import traceback

import click

from cai.core.errors import UserError


def quiet_model_loading() -> None:
    """No per-tensor "Loading weights" bars from transformers on every command that loads MiniLM,
    and no "Converting SentenceTransformer model ... to CrossEncoder" notice when a checker or
    re-ranker is trained from it."""
    import logging
    import os

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)


class StageEpilog:
    """A stage's config-key table for its `--help`, built only when that help is shown.

    Why lazy: the table comes from the pydantic config models (cai.core.configs, about half of the
    CLI's import time), and decorators run when cai.cli is imported, so an eager epilog made
    `cai --help` and every command pay for models they never use.
    """

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def __str__(self) -> str:
        return _config_table(self.stage)


class CaiCommand(click.Command):
    """A command whose epilog may be a `StageEpilog`, rendered when help is formatted."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if isinstance(self.epilog, StageEpilog):
            self.epilog = str(self.epilog)
        super().format_epilog(ctx, formatter)


class CaiGroup(click.Group):
    """Maps exceptions to exit codes: UserError and user-caused OSErrors (`os_error_line`) → 2 (one
    line each), anything else → 1."""

    command_class = CaiCommand  # `@cli.command` builds CaiCommands (lazy epilogs)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except UserError as e:
            if ctx.params.get("verbose"):
                traceback.print_exc()
            for line in e.lines():
                click.echo(f"error: {line}", err=True)
            ctx.exit(2)
        except BrokenPipeError:  # `cai ... | head`: the reader left; not an error of ours
            sys.stderr.close()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as e:  # noqa: BLE001 — last-resort boundary of the program
            if ctx.params.get("verbose"):
                traceback.print_exc()
            if (line := os_error_line(e)) is not None:  # a file the user named, a full disk: theirs to fix
                click.echo(f"error: {line}", err=True)
                ctx.exit(2)
            msg = " ".join(f"{type(e).__name__}: {e}".split())
            click.echo(f"internal error: {msg} (rerun with `cai --verbose` for the traceback)", err=True)
            ctx.exit(1)


# errno values that say something about the user's files or machine, whatever the file
_USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def os_error_line(error: BaseException) -> str | None:
    """One line for an OSError that is the user's to fix: one naming a file (unreadable, missing,
    a directory where a file belongs), or a full disk, a read-only file system or a permission
    refused. None for anything else (a network client's error without a file is no user error)."""
    if not isinstance(error, OSError) or (error.filename is None and error.errno not in _USER_ERRNOS):
        return None
    said = error.strerror or type(error).__name__
    if error.filename is None:
        return said
    target = f" -> {error.filename2}" if error.filename2 is not None else ""
    return f"{error.filename}{target}: {said}"


def quiet_optional_extras() -> None:
    """transformers imports peft, which imports bitsandbytes when it is installed (`cai[qlora]`), and
    bitsandbytes then warns on every process that its optional CPU 4-bit kernel cannot be fetched
    offline (it falls back to its own). Nothing here uses bitsandbytes unless `policy.load_in_4bit`
    is set, so those warnings are noise on every command: keep errors, drop the warnings."""
    import logging

    for name in ("bitsandbytes", "kernels"):
        logging.getLogger(name).setLevel(logging.ERROR)


def config_epilog(stage: str) -> StageEpilog:
    """`--help` text for a stage's config keys (see StageEpilog: built on demand)."""
    return StageEpilog(stage)


def _config_table(stage: str) -> str:
    """The config keys of `stage` with defaults, from the pydantic field descriptions."""
    from cai.core.configs import STAGES, describe_fields

    rows = [r for r in describe_fields(STAGES[stage]) if r[0] != "stage"]
    width = max(len(k) for k, _, _ in rows) + 2
    lines = ["\b", "Config keys (in CONFIG.yaml, or as key=value on the command line):"]
    for key, default, desc in rows:
        shown = "required" if default == "required" else f"default: {default}"
        lines.append(f"  {key.ljust(width)}{desc} [{shown}]")
    lines += ["", "\b", f"`cai config template {stage}` prints a documented YAML file with these keys."]
    return "\n".join(lines)
