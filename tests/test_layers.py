"""The code's floors: every module imports only from its own floor's package or from floors below it.

atdkit.cli                                   the command line, on top
atdkit.benchmark   atdkit.annotation_ui     scoring methods; the labelling app (neither imports the other)
atdkit.pipelines                             the dataset steps
atdkit (the rest)                            schemas, the dataset store, images, video, SSIM, metrics
"""

from __future__ import annotations

import ast
from pathlib import Path

import tomllib

from helpers import REPO

FLOORS = {"atdkit": 0, "atdkit.pipelines": 1, "atdkit.benchmark": 2, "atdkit.annotation_ui": 2, "atdkit.cli": 3}


def package_dirs() -> dict[str, Path]:
    """Installed package name -> folder of the repository, as pyproject.toml maps them."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {name: REPO / folder for name, folder in config["package-dir"].items()}


def modules() -> dict[str, Path]:
    """Every module of the installed package by its dotted name (the app's page scripts included)."""
    found = {}
    for package, folder in package_dirs().items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if package == "atdkit" and len(parts) > 1 and parts[0] != "cli":
                continue  # the other folders mapped under atdkit are listed under their own names
            found[".".join((package, *parts)).removesuffix(".__init__")] = path
    return found


def home(module: str) -> str:
    """The part of the package a module belongs to (a key of FLOORS)."""
    if module == "atdkit.__main__":  # python -m atdkit: the command line
        return "atdkit.cli"
    return max((name for name in FLOORS if module == name or module.startswith(name + ".")), key=len)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # a name, or a submodule
    return {name for name in names if name == "atdkit" or name.startswith("atdkit.")}


def test_no_module_imports_from_a_floor_above_it_or_a_sibling():
    everything = modules()
    assert (
        len(everything) > 100 and "atdkit.cli.bench" in everything and "atdkit.pipelines.formats.atd12k" in everything
    )
    wrong = []
    for module, path in everything.items():
        mine = home(module)
        for name in imported(path):
            theirs = home(name)
            if theirs != mine and FLOORS[theirs] >= FLOORS[mine]:
                wrong.append(f"{module} imports {name} ({theirs} is not below {mine})")
    assert wrong == []


def test_the_old_top_level_names_are_gone():
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in ("pipelines", "benchmark", "annotation_ui") for n in names), path
