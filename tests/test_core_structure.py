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
    assert {"client", "codec", "_correlation", "testing", "__init__"} <= names
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


# Names in public submodules that are deliberately not re-exported from the package: the wire
# codec's functions and the sentinel's helpers. Private modules (``_name``) are internals
# (h11's convention): the package re-exports what users need from them.
INTERNAL = frozenset({
    "ERROR_RES", "API_VERSION", "ClientRequest", "ServerMessage", "converter",
    "decode_request", "decode_server_message", "encode_params", "encode_request",
    "encode_response", "frame_request", "lenient_int",
})
# testing needs hypothesis; server and api (``from instamrkt_proto import api``): own API;
# so are recording (the file format), recorder (RecordingConnection), replay and mirror
# (``from instamrkt_proto.mirror import MarketMirror``)
NOT_REEXPORTED = frozenset({"testing", "server", "api", "recording", "recorder", "replay",
                            "mirror"})
PUBLIC = [name for name in SUBMODULES if not name.startswith("_")]
PRIVATE = [name for name in SUBMODULES if name.startswith("_")]


def test_internals_are_private_modules() -> None:
    assert set(PRIVATE) >= {"_correlation", "_keepalive", "_reconnect", "_replies",
                            "_session", "_state", "_timing", "_names", "_dialer",
                            "_models", "_decoders", "_params"}
    assert set(PUBLIC) == {"api", "auth", "client", "codec", "codes", "config", "errors",
                           "events", "server", "testing", "recording", "recorder", "replay",
                           "mirror"}


@pytest.mark.parametrize("name", PUBLIC)
def test_submodule_exports(name: str) -> None:
    module = importlib.import_module(f"instamrkt_proto.{name}")
    exported = tuple(module.__all__)
    assert len(set(exported)) == len(exported)
    if name in NOT_REEXPORTED:
        assert all(hasattr(module, n) for n in exported)
        return
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


def test_no_class_borrows_another_class_attributes() -> None:
    """No mixin re-declares the client's attributes for the type checker."""
    for path in MODULES:
        assert "TYPE_CHECKING" not in path.read_text(encoding="utf-8"), path.name
