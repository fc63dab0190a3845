"""Issue #21 point 6: a file that disappears or turns unreadable while `cai ingest` runs is skipped
with its reason, like any other bad file; the other files are ingested, the report is written and
the exit code is the one for a run with skips (0 when anything was ingested)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import rag.ingest
from cai.cli import cli

TEXTS = {
    "alpha.txt": "Alpha Freight Corp. reported revenue of $120.5 million in fiscal 2023.",
    "beta.txt": "Beta Mining Inc. shipped 4.2 million tons of ore in 2022.",
    "gamma.txt": "Gamma Foods sold 300 stores in the Midwest during 2021.",
    "delta.txt": "Delta Air Freight flew 12,000 cargo flights in 2020.",
}


def _corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in TEXTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_files_vanishing_or_unreadable_mid_ingest_are_skipped_with_reasons(tmp_path, monkeypatch):
    folder = _corpus(tmp_path)
    real_discover, real_sha = rag.ingest.discover_files, rag.ingest.sha256_of

    def discover_then_delete_beta(paths, issues):
        found = real_discover(paths, issues)
        (folder / "beta.txt").unlink()  # gone between discovery and hashing
        return found

    def hash_with_faults(path):
        if path.name == "gamma.txt":
            raise PermissionError(13, "Permission denied", str(path))
        digest = real_sha(path)
        if path.name == "delta.txt":
            path.unlink()  # gone between hashing and parsing
        return digest

    monkeypatch.setattr(rag.ingest, "discover_files", discover_then_delete_beta)
    monkeypatch.setattr(rag.ingest, "sha256_of", hash_with_faults)
    index = tmp_path / "index"
    result = CliRunner().invoke(cli, ["ingest", str(folder), "--index", str(index), "-q"])

    assert result.exit_code == 0, result.output
    report = json.loads((index / "ingest_report.json").read_text(encoding="utf-8"))
    assert report["added"] == ["alpha"]
    skipped = {Path(i["path"]).name: i for i in report["issues"]}
    assert set(skipped) == {"beta.txt", "gamma.txt", "delta.txt"}
    assert all(i["status"] == "skipped" for i in skipped.values())
    assert "No such file" in skipped["beta.txt"]["reason"] and "No such file" in skipped["delta.txt"]["reason"]
    assert "Permission denied" in skipped["gamma.txt"]["reason"]
    for name in ("beta.txt", "gamma.txt", "delta.txt"):
        assert f"skipped: {folder.resolve() / name}: " in result.output
    assert "Traceback" not in result.output


def test_every_file_vanishing_is_the_nothing_ingested_user_error(tmp_path, monkeypatch):
    folder = _corpus(tmp_path)
    real_discover = rag.ingest.discover_files

    def discover_then_delete_all(paths, issues):
        found = real_discover(paths, issues)
        for path in found:
            path.unlink()
        return found

    monkeypatch.setattr(rag.ingest, "discover_files", discover_then_delete_all)
    index = tmp_path / "index"
    result = CliRunner().invoke(cli, ["ingest", str(folder), "--index", str(index), "-q"])

    assert result.exit_code == 2, result.output
    assert "nothing was ingested" in result.output
    report = json.loads((index / "ingest_report.json").read_text(encoding="utf-8"))
    assert len(report["issues"]) == len(TEXTS) and report["added"] == []


def test_unreadable_file_inside_a_folder_is_skipped_at_discovery(tmp_path, monkeypatch):
    folder = _corpus(tmp_path)
    real_is_file = Path.is_file

    def is_file_denied_for_gamma(self):
        if self.name == "gamma.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_file(self)

    monkeypatch.setattr(Path, "is_file", is_file_denied_for_gamma)
    issues: list = []
    found = rag.ingest.discover_files([folder], issues)
    assert sorted(p.name for p in found) == ["alpha.txt", "beta.txt", "delta.txt"]
    assert [(Path(i.path).name, i.status) for i in issues] == [("gamma.txt", "skipped")]
    assert "Permission denied" in issues[0].reason
