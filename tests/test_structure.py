"""The shape of the code, checked from its source: one-way layers, generators apart, no stage
importing another, no import cycles, small files, dvc.yaml declaring exactly what each stage
imports, reads and writes, paths written once, and params.yaml spelling out the typed
defaults."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from common.params import Params, as_dict, parse

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "features", "models", "pipeline", "synthetic")
LAYER = {"common": 0, "features": 1, "models": 2, "pipeline": 3}
PIPELINES = {name: yaml.safe_load((ROOT / name).read_text())
             for name in ("dvc.yaml", "demo/dvc.yaml")}
PATHS = yaml.safe_load((ROOT / "paths.yaml").read_text())["paths"]
#: generators may be long (one planted world each); so may benchmarks: everything else stays
#: small enough to read in one sitting
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


MODULES = modules()


def imports_of(name: str) -> set[str]:
    """Project modules imported anywhere in `name` (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for target in targets:
            if target in MODULES:
                found.add(target)
    return found - {name}


def stage_specs() -> dict[str, dict]:
    return {stage: spec for dvc in PIPELINES.values() for stage, spec in dvc["stages"].items()}


SPECS = stage_specs()


def stage_modules() -> dict[str, str]:
    out = {}
    for stage, spec in SPECS.items():
        match = re.search(r"python -m ([\w.]+)", spec["cmd"])
        assert match, f"stage {stage} does not run a project module"
        out[stage] = match.group(1)
    return out


STAGES = stage_modules()


def test_layers_point_one_way():
    """pipeline -> models -> features -> common; the generators sit apart, used only by the
    CLI's `synth`, and use no production code (they would test it against itself)."""
    wrong = []
    for name in MODULES:
        top = name.split(".")[0]
        for target in imports_of(name):
            dest = target.split(".")[0]
            if top in LAYER and dest in LAYER and LAYER[dest] > LAYER[top]:
                wrong.append(f"{name} -> {target}")
            if top in LAYER and dest == "synthetic" and name != "pipeline.cli":
                wrong.append(f"{name} -> {target} (the demo shop is not production code)")
            if top == "synthetic" and dest != "synthetic":
                wrong.append(f"{name} -> {target} (a generator stays independent)")
    assert not wrong, wrong


def test_models_are_four_domains_and_stages_sit_beside_their_shell():
    models = {p.name for p in (ROOT / "models").iterdir() if p.is_dir() and
              not p.name.startswith("__")}
    assert models == {"churn", "causes", "actions", "campaigns"}
    assert not [p.name for p in (ROOT / "models").glob("*.py") if p.name != "__init__.py"]
    assert set(STAGES.values()) == {f"pipeline.stages.{p.stem}" for p in
                                    (ROOT / "pipeline" / "stages").glob("*.py")
                                    if p.stem != "__init__"}


def test_no_file_is_too_long_to_read():
    long = [f"{p.relative_to(ROOT)}: {n}" for name, p in MODULES.items()
            if not name.startswith("synthetic")
            and (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, long


def test_paths_are_written_once():
    """paths.yaml is the only place: the Paths model reads exactly its keys, and no stage,
    CLI or report module spells a path of it as a literal."""
    from pipeline.paths import Paths

    assert {f.name for f in dataclasses.fields(Paths)} == set(PATHS)
    literals = {v for v in PATHS.values() if "/" in v}
    found = []
    for name, path in MODULES.items():
        if not name.startswith("pipeline"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in literals:
                found.append(f"{name}: {node.value}")
    assert not found, found


def test_no_stage_imports_another_and_nothing_imports_the_cli():
    stages = set(STAGES.values())
    wrong = [f"{name} -> {target}" for name in MODULES for target in imports_of(name)
             if (target in stages and name in stages) or target == "pipeline.cli"]
    assert not wrong, wrong


def test_no_import_cycles():
    graph = {name: imports_of(name) for name in MODULES}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])


def closure(name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(imports_of(current))
    return seen


def declared_paths(spec: dict) -> set[str]:
    out = set()
    for key in ("deps", "outs", "metrics", "plots"):
        for entry in spec.get(key, []):
            out.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return out


def resolve_vars(text: str) -> str:
    return re.sub(r"\$\{paths\.(\w+)\}", lambda m: PATHS[m.group(1)], text)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stage_declares_every_module_it_imports(stage):
    deps = {resolve_vars(d) for d in SPECS[stage]["deps"]}
    missing = []
    for name in sorted(closure(STAGES[stage])):
        path = MODULES[name].relative_to(ROOT).as_posix()
        package = name.split(".")[0] + "/"
        if name.startswith("pipeline."):
            if path not in deps:
                missing.append(path)
        elif package not in deps and path not in deps:
            missing.append(package)
    assert not missing, f"stage {stage} imports {sorted(set(missing))} without declaring them"


#: live output: batch files accumulate beside the export database; DVC tracks neither
LIVE = {"exports"}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stage_declares_every_path_on_its_command_line(stage):
    spec = SPECS[stage]
    declared = {resolve_vars(p).rstrip("/") for p in declared_paths(spec)}
    kept = LIVE
    args = re.findall(r"--[\w-]+ (\S+)", resolve_vars(spec["cmd"]))
    # a folder argument is declared through the files DVC tracks inside it
    missing = [a for a in args if a.rstrip("/") not in declared
               and not any(d.startswith(a.rstrip("/") + "/") for d in declared)
               and a.rstrip("/") not in kept]
    assert not missing, f"stage {stage}: {missing} on its command line but not in deps/outs"


def params_read(stage_module: str) -> set[str]:
    """`params.<section>[.<key>]` attribute reads in a stage's module."""
    read = set()
    tree = ast.parse(MODULES[stage_module].read_text())

    def is_params(node: ast.AST) -> bool:   # `params` or `<anything>.params`
        return (isinstance(node, ast.Name) and node.id == "params") or (
            isinstance(node, ast.Attribute) and node.attr == "params")

    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and \
                is_params(node.value.value):
            read.add(f"{node.value.attr}.{node.attr}")
            inner.add(id(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_params(node.value) and id(node) not in inner:
            read.add(node.attr)
    sections = set(Params.model_fields)
    return {r for r in read if r.split(".")[0] in sections}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stage_declares_every_param_it_reads(stage):
    declared = set(SPECS[stage].get("params", []))
    read = params_read(STAGES[stage])
    missing = [r for r in read if r not in declared and r.split(".")[0] not in declared]
    # a section read whole needs the whole section declared
    missing += [r for r in read if "." not in r and r not in declared]
    assert not missing, f"stage {stage} reads params {sorted(set(missing))} undeclared"


def test_params_yaml_spells_out_exactly_the_typed_defaults():
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    written = as_dict(parse(raw))
    defaults = as_dict(Params())
    written["data"].pop("tables")
    defaults["data"].pop("tables")
    assert written == defaults

    def keys(tree, prefix=""):
        for k, v in tree.items():
            if isinstance(v, dict) and k not in ("tables", "conf") and v and not all(
                    isinstance(x, int | float) for x in v.values()):
                yield from keys(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}"

    assert set(keys(raw)) == set(keys(as_dict(Params()))), "params.yaml documents every knob"
