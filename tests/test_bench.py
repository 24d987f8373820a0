"""bench/run.py: a --quick run never overwrites the committed results (issue 10, item 19)."""

from __future__ import annotations

import importlib.util
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def bench_run(monkeypatch, tmp_path):
    """bench/run.py loaded as a module, its one section a no-op and its results dir in tmp_path."""
    spec = importlib.util.spec_from_file_location("bench_run_under_test", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look the module up
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "SECTIONS", {"noop": lambda ctx: ctx.report.data.update(noop=1)})
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(module.h, "MAIN_PYTHON", Path(sys.executable))
    monkeypatch.setattr(module.h, "BENCH_PYTHON", Path(sys.executable))
    committed = tmp_path / "results"
    committed.mkdir()
    (committed / "latest.md").write_text("committed tables\n", encoding="utf-8")
    (committed / "latest.json").write_text('{"committed": true}\n', encoding="utf-8")
    handler = signal.getsignal(signal.SIGTERM)
    yield module
    signal.signal(signal.SIGTERM, handler)  # main() installs its own


def test_quick_run_leaves_the_committed_results_alone(bench_run, tmp_path, capsys):
    assert bench_run.main(["--quick"]) == 0
    committed = tmp_path / "results"
    assert (committed / "latest.md").read_text(encoding="utf-8") == "committed tables\n"
    assert (committed / "latest.json").read_text(encoding="utf-8") == '{"committed": true}\n'
    quick = committed / "quick"
    assert "- mode: quick" in (quick / "latest.md").read_text(encoding="utf-8")
    assert '"noop": 1' in (quick / "latest.json").read_text(encoding="utf-8")
    assert f"tables in {quick / 'latest.md'}" in capsys.readouterr().out


def test_full_run_writes_the_committed_results(bench_run, tmp_path, capsys):
    assert bench_run.main([]) == 0
    committed = tmp_path / "results"
    assert "- mode: full" in (committed / "latest.md").read_text(encoding="utf-8")
    assert not (committed / "quick").exists()
    assert f"tables in {committed / 'latest.md'}" in capsys.readouterr().out


def test_quick_results_folder_is_git_ignored(bench_run):
    need(shutil.which("git") is not None and (ROOT / ".git").exists(), "git and the repository")
    real = Path(bench_run.h.BENCH) / "results"
    quick = bench_run.results_dir(True).relative_to(bench_run.RESULTS)
    probe = (real / quick / "latest.md").relative_to(ROOT)
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", str(probe)], timeout=30)
    assert ignored.returncode == 0, f"{probe} is not git-ignored"
    committed = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "bench/results/latest.md"],
                               timeout=30)
    assert committed.returncode == 1, "bench/results/latest.md must stay tracked"
