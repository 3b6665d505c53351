"""Static checks on the core package: no I/O, clock or randomness imports; a static __all__."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import instamrkt_proto

BANNED = frozenset({"socket", "threading", "asyncio", "anyio", "time", "random", "secrets"})
PACKAGE_DIR = Path(instamrkt_proto.__file__).parent
MODULES = sorted(PACKAGE_DIR.glob("*.py"))
SUBMODULES = sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE_DIR)]))


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "__import__"):
            roots.add("__import__")  # dynamic imports would dodge this check
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module"):
            roots.add("import_module")
    return roots


def test_the_check_sees_every_module_and_every_import_form(tmp_path: Path) -> None:
    names = {p.stem for p in MODULES}
    assert {"client", "codec", "correlation", "testing", "__init__"} <= names
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os.path, time as t\nfrom random import random\nfrom . import codec\n"
        "def f():\n    import socket\n    from asyncio import sleep\n"
        "    __import__('secrets')\n"
    )
    assert imported_roots(sample) == {"os", "time", "random", "socket", "asyncio", "__import__"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_io_clock_or_random_imports(path: Path) -> None:
    roots = imported_roots(path)
    assert not roots & BANNED, f"{path.name} imports {sorted(roots & BANNED)}"
    assert "__import__" not in roots and "import_module" not in roots


def test_package_all_is_static_and_sorted() -> None:
    tree = ast.parse((PACKAGE_DIR / "__init__.py").read_text(encoding="utf-8"))
    (value,) = [n.value for n in tree.body if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)]
    names = ast.literal_eval(value)
    assert isinstance(names, tuple) and names == tuple(instamrkt_proto.__all__)
    upper = [n for n in names if n.isupper()]
    rest = [n for n in names if not n.isupper()]
    assert upper == sorted(upper) and rest == sorted(rest)
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(instamrkt_proto, name) is not None


# Submodule names that are deliberately not re-exported from the package: internals of the
# core (the correlation table, timers' helpers) and the wire codec's functions.
INTERNAL = frozenset({
    "ECHO_KEYS", "ERROR_RES", "API_VERSION", "ClientRequest", "ServerMessage", "converter",
    "decode_request", "decode_server_message", "encode_params", "encode_request",
    "encode_response", "frame_request", "lenient_int", "Correlator", "PendingRequest",
    "timeout_outcome", "IGNORED", "TRANSITIONS", "USER_SENDABLE", "Input", "ClockEstimator",
    "RateLimiter", "Keepalive", "Verdict", "reply_event", "GameRegistry", "Restore",
    "NameTables", "ReconnectPolicy", "SessionRecovery", "ReplyHandling", "DEFAULT",
})
NOT_REEXPORTED = frozenset({"testing", "server"})  # testing needs hypothesis; server: own API


@pytest.mark.parametrize("name", SUBMODULES)
def test_submodule_exports(name: str) -> None:
    if name in NOT_REEXPORTED:
        module = importlib.import_module(f"instamrkt_proto.{name}")
        assert all(hasattr(module, n) for n in module.__all__)
        return
    module = importlib.import_module(f"instamrkt_proto.{name}")
    exported = tuple(module.__all__)
    assert len(set(exported)) == len(exported)
    for public in exported:
        obj = getattr(module, public)
        if public in INTERNAL:
            continue
        assert public in instamrkt_proto.__all__, f"{name}.{public} is not re-exported"
        assert getattr(instamrkt_proto, public) is obj


def test_every_name_in_package_all_comes_from_a_submodule() -> None:
    origins = set()
    for name in SUBMODULES:
        if name in NOT_REEXPORTED:
            continue
        origins.update(importlib.import_module(f"instamrkt_proto.{name}").__all__)
    missing = set(instamrkt_proto.__all__) - origins
    assert not missing

