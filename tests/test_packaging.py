"""`pip install` from the repository gives the spec, the mock, the suites and the gate.

An integrator's CI installs the project without a clone (docs/GATE.md), so every package and
every data file its code reads must be declared in pyproject.toml: a file left out works in a
checkout and fails only once installed.
"""

from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"]
NOT_INSTALLED = ("tests", "bench")  # run from a checkout only


def tracked() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    return [Path(name) for name in listed]


def test_every_package_of_the_project_is_installed() -> None:
    packages = {str(path.parent).replace("/", ".") for path in tracked()
                if path.name == "__init__.py" and path.parts[0] not in NOT_INSTALLED}
    missing = packages - set(SETUPTOOLS["packages"])
    assert not missing, f"packages pyproject.toml does not install: {sorted(missing)}"


def test_every_data_file_of_an_installed_package_is_shipped() -> None:
    packages = set(SETUPTOOLS["packages"])
    data = SETUPTOOLS.get("package-data", {})
    missing = []
    for path in tracked():
        if path.suffix == ".py" or path.parts[0] not in packages:
            continue
        if path.name.startswith("test_") or path.name == "conftest.py":
            continue
        # The file belongs to the deepest package that holds it (mock_server.seeds, ...)
        depth = max(n for n in range(1, len(path.parts))
                    if ".".join(path.parts[:n]) in packages)
        package = ".".join(path.parts[:depth])
        inside = Path(*path.parts[depth:]).as_posix()
        if not any(fnmatch.fnmatch(inside, pattern) for pattern in data.get(package, [])):
            missing.append(str(path))
    assert not missing, f"data files pyproject.toml does not ship: {missing}"
