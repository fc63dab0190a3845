"""The scale-out commands of the `cai` command line: `cai reward serve` (the hybrid reward over
HTTP for OpenRLHF, verl and TRL) and `cai export rl-prompts` (their datasets). Registered on the
main group by cai.cli; errors map to exit codes there (UserError → 2)."""

from __future__ import annotations

from pathlib import Path

import click

from cai.cli.base import CaiCommand, config_epilog, quiet_model_loading


@click.group()
def reward() -> None:
    """Serve the hybrid reward to trainers on other machines (OpenRLHF, verl, TRL)."""


@reward.command("serve", cls=CaiCommand, epilog=config_epilog("train"))
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(path_type=Path))
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--preference", type=click.Path(path_type=Path), default=None, metavar="PATH",
              help="A `cai train` run that ran the reward stage (its reward/model), or a preference model directory. "
                   "Without it the reward has no preference part (as `cai train` before its reward stage).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Bind address. Anything but 127.0.0.1 / localhost / ::1 needs a token (see --token-env).")
@click.option("--port", default=8800, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free port).")
@click.option("--token-env", default="CAI_REWARD_TOKEN", show_default=True, metavar="NAME",
              help="Environment variable holding the access token; when it is set, every request must carry it "
                   "(Authorization: Bearer …, or ?token=… in the URL).")
@click.option("--max-batch", default=64, show_default=True, type=click.IntRange(1, 4096),
              help="Rows scored in one call: requests waiting together are batched up to this many rows.")
@click.option("--queue", "queue_size", default=256, show_default=True, type=click.IntRange(1, 100_000),
              help="Requests waiting at most; one more is answered 503 (retry) at once.")
@click.option("--max-rows", default=256, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per request at most (413 above).")
@click.option("--max-body-mb", default=8.0, show_default=True, type=click.FloatRange(0.001, 1024),
              help="Request body size limit in MiB (413 above).")
@click.option("--no-normalise", is_flag=True,
              help="Combine the raw parts as they are, without the running mean/std standardisation `cai train` uses.")
def reward_serve(config_file: Path, overrides: tuple[str, ...], preference: Path | None, host: str, port: int,
                 token_env: str, max_batch: int, queue_size: int, max_rows: int, max_body_mb: float,
                 no_normalise: bool) -> None:
    """Serve the hybrid reward of a train config over HTTP (OpenRLHF's remote reward model protocol).

    \b
    The reward is the one `cai train` builds from CONFIG.yaml (its data run's constitution, its
    `hybrid:` weights and checker, its index), loaded once. Routes:
      POST /get_reward   {"query", "prompts", "labels"} → {"rewards", "scores", "extra_logs", "errors"}
      GET  /health
    Labels are those `cai export rl-prompts` writes. verl and TRL use the same server through
    `rewards.engines` with CAI_REWARD_URL=http://HOST:PORT/get_reward.
    """
    from cai.core.configs import load_config
    from cai.core.serving import read_token
    from cai.stages.reward_serve import Limits, serve

    cfg = load_config(config_file, list(overrides), stage="train")
    quiet_model_loading()
    limits = Limits(max_body=int(max_body_mb * (1 << 20)), max_rows=max_rows, max_batch=max_batch,
                    queue_size=queue_size, max_connections=queue_size + 64)
    serve(cfg, host=host, port=port, preference=preference, token=read_token(token_env), token_env=token_env,
          limits=limits, normalise=not no_normalise, echo=click.echo)


@click.group()
def export() -> None:
    """Export a run's data for other trainers."""


@export.command("rl-prompts")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(["openrlhf", "verl", "trl"]),
              help="openrlhf: JSONL input/label; verl: Parquet (data_source, prompt, ability, reward_model, "
                   "extra_info); trl: JSONL prompt/label.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output file (written atomically).")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None,
              help="The `cai ingest` index (default: the run's).")
@click.option("--tokenizer", default=None, help="Cut sources to fit --max-prompt-tokens in this tokenizer's tokens "
                                                "(HF id or path; the policy's).")
@click.option("--max-prompt-tokens", type=click.IntRange(16), default=None, metavar="N",
              help="Prompt budget in tokens (with --tokenizer).")
@click.option("--data-source", default="cai", show_default=True, help="verl: the data_source column.")
def export_rl_prompts(run_dir: Path, fmt: str, out: Path, index_dir: Path | None, tokenizer: str | None,
                      max_prompt_tokens: int | None, data_source: str) -> None:
    """Write the RL prompts of a generate run, each with the label its reward finds the sources by.

    RUN_DIR is the directory `cai generate` printed. The prompts are those `cai train` rolls out;
    the label (a JSON string) carries the question id, the question, the retrieved chunks'
    locators and each document's sha256. Prints the output path as the last line of stdout.
    """
    from cai.stages.rl_export import export as run_export

    result = run_export(run_dir, fmt, out, index=index_dir, tokenizer=tokenizer, max_prompt_tokens=max_prompt_tokens,
                        data_source=data_source)
    click.echo(result.line())
    click.echo(str(result.path))
