"""The layering of the tree, guarded (after torchtune's tests/test_import_recipes.py).

Layers, bottom to top; a module may import only its own layer and the layers its row names:

    cai.core                     contracts, errors, configs, constitution, prompts, runs, assets
    rag · cai.llm · cai.training building blocks: each imports cai.core only (not each other)
    rewards                      cai.core, cai.llm, rag
    cai.teachers                 cai.core, cai.llm, rag, rewards
    cai.stages                   everything below; a stage never imports another stage
    cai.cli                      everything

Every import counts, including the lazy ones inside functions (they run too). Within
`cai.stages`, a stage is a group of modules (generate = generate + cpu_pool + revision_gate + generate_card;
review = review + review_web + review_pages + review_store + review_export; eval = eval + eval_gold); `pairs` and
`report_html` are shared by stages and import none.
Circles between modules are refused anywhere.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cai", "rag", "rewards")

ALLOWED = {
    "core": {"core"},
    "rag": {"core", "rag"},
    "llm": {"core", "llm"},
    "training": {"core", "training"},
    "rewards": {"core", "llm", "rag", "rewards"},
    "teachers": {"core", "llm", "rag", "rewards", "teachers"},
    "stages": {"core", "llm", "rag", "rewards", "teachers", "training", "stages"},
    "cli": {"core", "llm", "rag", "rewards", "teachers", "training", "stages", "cli"},
}
STAGE_GROUPS = {
    "generate": {"generate", "cpu_pool", "revision_gate", "generate_card", "drafting"},
    "review": {"review", "review_web", "review_pages", "review_store", "review_export"},
    "train": {"train"}, "eval": {"eval", "eval_gold"}, "answer": {"answer"}, "audit": {"audit"},
    "checker_train": {"checker_train"}, "retriever_train": {"retriever_train"},
    "reward_serve": {"reward_serve"}, "rl_export": {"rl_export"},
}
SHARED_STAGE_MODULES = {"pairs", "report_html"}


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name → file, for every module of the three packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module → the project modules it imports (anywhere in the file, relative imports resolved)."""
    files = module_files(root)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in files:  # `import cai.core.runs.x` → the module it names
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] in ("rag", "rewards"):
        return parts[0]
    if len(parts) == 1:
        return "core"  # the `cai` package itself: a version string
    return "cli" if parts[1] == "cli" else parts[1]


def stage_group(module: str) -> str | None:
    name = module.split(".")[-1]
    return next((group for group, names in STAGE_GROUPS.items() if name in names), None)


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = [f"{module} sits in no layer (cai.core, cai.llm, cai.training, cai.teachers, cai.stages, cai.cli)"
           for module in sorted(graph) if layer(module) not in ALLOWED]
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if layer(module) not in ALLOWED or layer(target) not in ALLOWED:
                continue
            if layer(target) not in ALLOWED[layer(module)]:
                bad.append(f"{module} imports {target}: {layer(module)} may not import {layer(target)}")
            elif layer(module) == layer(target) == "stages" and module != "cai.stages" and target != "cai.stages":
                mine, theirs = stage_group(module), stage_group(target)
                if theirs is not None and mine != theirs:
                    bad.append(f"{module} imports {target}: a stage never imports another stage")
    return bad


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan 1972), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_runs_up_a_layer_or_across_stages():
    assert layer_violations(import_graph()) == []


def test_no_import_circles():
    assert circles(import_graph()) == []


@pytest.mark.parametrize("edge", [("rag.store", "cai.stages.generate"), ("rewards.claims", "cai.teachers.base"),
                                  ("cai.core.prompts", "rag.quotes"), ("cai.stages.eval", "cai.stages.answer"),
                                  ("cai.llm.chat", "cai.training.ppo"), ("cai.stages.pairs", "cai.stages.generate")])
def test_an_added_upward_or_cross_stage_import_fails(edge):
    graph = import_graph()
    graph[edge[0]] = graph[edge[0]] | {edge[1]}
    assert any(line.startswith(f"{edge[0]} imports {edge[1]}") for line in layer_violations(graph))


def test_an_added_circle_fails():
    graph = import_graph()
    graph["rewards.numbers"] = graph["rewards.numbers"] | {"rewards.claims"}  # claims imports numbers
    assert any({"rewards.claims", "rewards.numbers"} <= set(c) for c in circles(graph))


def test_the_checker_reads_real_imports(tmp_path):
    """A module with a lazy, upward import inside a function is caught (the test is not vacuous)."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "cai" / "core").mkdir()
    (tmp_path / "cai" / "core" / "__init__.py").write_text("")
    (tmp_path / "cai" / "stages").mkdir()
    (tmp_path / "cai" / "stages" / "__init__.py").write_text("")
    (tmp_path / "cai" / "stages" / "generate.py").write_text("from ...rag import index\n")
    (tmp_path / "rag" / "index.py").write_text("def f():\n    from cai.stages import generate\n")
    graph = import_graph(tmp_path)
    assert graph["rag.index"] == {"cai.stages.generate"}
    assert layer_violations(graph) == ["rag.index imports cai.stages.generate: rag may not import stages"]
    assert circles(graph) == [["cai.stages.generate", "rag.index"]]


@pytest.mark.parametrize("module", sorted(module_files()))
def test_every_module_imports(module):
    importlib.import_module(module)
