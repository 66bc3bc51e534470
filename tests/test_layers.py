"""The one-way layers (web -> indexer -> kb; kb never imports Flask or click) are enforced
by import-linter's contracts in pyproject.toml; this runs the same check as `make lint`."""
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is part of the [test] extra"
    proc = subprocess.run([exe], check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_contract_catches_a_violation(tmp_path):
    """The checker is not vacuous: a kb module importing web is reported."""
    bad = REPO / "kb" / "_layer_probe.py"
    bad.write_text("import web  # deliberate violation for the test\n")
    try:
        exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
        proc = subprocess.run([exe, "--no-cache"], check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0
        assert "kb._layer_probe" in proc.stdout
    finally:
        bad.unlink()
