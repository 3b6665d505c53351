"""What the package imports, it declares: a plain ``pip install`` must be enough to run it."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
LOCAL = {"instamrkt_proto", "instamrkt_transports"}
# Modules that only run where their extra is installed: the hypothesis kit for tests and
# the pytest plugin (loaded by pytest itself); the demo probes for the trio extra.
OPTIONAL = {"instamrkt_proto/testing.py": {"hypothesis"},
            "instamrkt_transports/server/pytest_plugin.py": {"pytest"},
            "instamrkt_transports/cli/demo.py": {"trio"}}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _declared() -> set[str]:
    required = set()
    for spec in requires("instamrkt") or []:
        if "extra ==" in spec:
            continue
        required.add(re.split(r"[ <>=!;\[]", spec, maxsplit=1)[0].lower())
    return required


def test_every_third_party_import_is_a_declared_dependency() -> None:
    dists = packages_distributions()
    declared = _declared()
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        for name in _imports(path) - LOCAL - set(sys.stdlib_module_names):
            if name in OPTIONAL.get(relative, set()) or name == "exceptiongroup":
                continue  # exceptiongroup: imported on Python 3.10 only, where anyio needs it
            owners = {d.lower() for d in dists.get(name, [name])}
            assert owners & declared, f"{relative} imports {name!r}, not a declared dependency"
