"""environment.yml (conda) and pyproject.toml (pip) must describe the same dependency set."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    """Package name of a requirement string, normalised (PEP 503)."""
    name = re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_packages() -> set[str]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in meta.get("optional-dependencies", {}).values():
        reqs += extra
    return {_name(r) for r in reqs}


def environment_packages() -> set[str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(p) for p in dep["pip"] if not p.startswith("-e")}
        elif _name(dep) not in {"python", "pip"}:
            names.add(_name(dep))
    return names


def test_environment_yml_matches_pyproject():
    conda, pip = environment_packages(), pyproject_packages()
    assert conda - pip == set(), f"in environment.yml only: {sorted(conda - pip)}"
    assert pip - conda == set(), f"in pyproject.toml only: {sorted(pip - conda)}"


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip


def test_every_environment_line_says_what_uses_it():
    text = (REPO / "environment.yml").read_text()
    deps = text.split("dependencies:", 1)[1]
    for line in deps.splitlines():
        if re.match(r"\s+- [a-z]", line) and not line.strip().startswith(("- python", "- pip")):
            assert "#" in line, f"environment.yml line without a comment: {line.strip()}"


def test_no_pytorch_anywhere():
    assert not {"torch", "sentence-transformers"} & (pyproject_packages() | environment_packages())
