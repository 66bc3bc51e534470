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


def _lint_with_probe(name: str, source: str) -> subprocess.CompletedProcess:
    """lint-imports run with kb/<name>.py holding `source` (removed afterwards)."""
    bad = REPO / "kb" / f"{name}.py"
    bad.write_text(source)
    try:
        exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
        return subprocess.run([exe, "--no-cache"], check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    finally:
        bad.unlink()


def test_contract_catches_a_violation():
    """The checker is not vacuous: a kb module importing web is reported."""
    proc = _lint_with_probe("_layer_probe", "import web  # deliberate violation for the test\n")
    assert proc.returncode != 0
    assert "kb._layer_probe" in proc.stdout


def _cycles(packages: tuple[str, ...]) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan) over every import grimp sees, function-level
    imports included, parent packages included: a cycle through a package's __init__ counts."""
    import grimp

    graph = grimp.build_graph(*packages)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for m in edges:
        if m not in index:
            visit(m)
    return found


def test_no_import_cycles():
    """import-linter's acyclic_siblings contract sees siblings only; this also catches a
    package and its own modules importing each other (web <-> web.api.* through get_kb)."""
    assert _cycles(("kb", "indexer", "web")) == []


def test_cycle_check_is_not_vacuous():
    probe = REPO / "kb" / "search" / "_cycle_probe.py"
    probe.write_text("import kb.search.service  # deliberate cycle for the test\n")
    service = REPO / "kb" / "search" / "service.py"
    original = service.read_text()
    service.write_text(original + "\n\ndef _probe():\n    import kb.search._cycle_probe  # noqa: F401\n")
    try:
        assert any("kb.search._cycle_probe" in c for c in _cycles(("kb",)))
    finally:
        service.write_text(original)
        probe.unlink()


def test_whoosh_outside_its_backend_is_reported():
    proc = _lint_with_probe("_whoosh_probe", "import whoosh  # deliberate violation for the test\n")
    assert proc.returncode != 0
    assert "Only the Whoosh backend imports whoosh BROKEN" in proc.stdout


def test_the_composition_root_is_the_one_named_exception():
    """`python -m kb` (kb/__main__.py) hands over to the command line in web/cli: the only
    import against the layers, named with its reason in the contract; no other ignore."""
    import ast
    import tomllib

    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    ignored = [i for c in contracts for i in c.get("ignore_imports", [])]
    assert ignored == ["kb.__main__ -> web.cli"]
    tree = ast.parse((REPO / "kb" / "__main__.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported == {"web.cli"}
    main = subprocess.run([sys.executable, "-m", "kb", "--help"], check=False, cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert main.returncode == 0 and "serve" in main.stdout and "entities" in main.stdout


def test_the_cli_lives_in_the_application_shell():
    """The command line sits beside the HTTP app (web/cli), and `kb serve` hands gunicorn
    the app that create_app builds, imported where the layer check sees it."""
    import importlib
    import tomllib

    import grimp

    assert not (REPO / "indexer" / "cli").exists()
    script = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]["kb"]
    assert script == "web.cli:main"
    module, _, name = script.partition(":")
    assert callable(getattr(importlib.import_module(module), name))

    graph = grimp.build_graph("web", "indexer", "kb")
    assert "web" in graph.find_modules_directly_imported_by("web.cli.admin_cmd")


def test_no_import_is_hidden_in_a_string():
    """Every import of kb, indexer and web is an import statement the layer check reads: the
    CLI's command modules and the format parsers, lazily imported or not, are in its graph."""
    import ast

    import grimp

    for package in ("kb", "indexer", "web"):
        for path in (REPO / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            calls = [n.func for n in ast.walk(tree) if isinstance(n, ast.Call)]
            named = {getattr(f, "attr", None) or getattr(f, "id", None) for f in calls}
            assert not named & {"import_module", "__import__"}, f"{path.relative_to(REPO)} imports by name"
    graph = grimp.build_graph("web", "indexer", "kb")
    commands = graph.find_modules_directly_imported_by("web.cli")
    assert {f"web.cli.{m}_cmd" for m in ("ingest", "search", "entities", "admin", "export", "embed")} <= commands
    parsers = graph.find_modules_directly_imported_by("indexer.extract")
    assert {f"indexer.extract.{m}" for m in ("pdf", "docx", "pptx", "xlsx", "html", "text", "legacy")} <= parsers
