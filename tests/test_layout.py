"""The tree's dependency rules: imports run one way, and no module imports itself back.

* the core (``instamrkt_proto``) imports nothing from the transports;
* the client side (the public client modules and ``_client/``) imports nothing from the
  reference market, the reference server or the command line;
* the market imports nothing from the server, the command line or the clients' internals;
* the server imports nothing from the command line;
* no import circle between modules, counting imports inside functions too;
* every file the README's module map names exists where the map puts it, and every module
  is in the map (a module of the four parts, in its part).

Every import is read from the source (``ast``), so an import hidden in a function or under
``TYPE_CHECKING`` counts the same as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGES = ("instamrkt_proto", "instamrkt_transports")

T = "instamrkt_transports"
CLIENT_SIDE = {f"{T}.{name}" for name in ("anyio", "threaded", "blocking", "options", "delivery",
                                          "proxy", "rest", "_quietlog")} | {T}
# (who, may not import): a module is "in" a part when its name is the part or starts with it.
FORBIDDEN = (
    ("instamrkt_proto", T),
    (f"{T}._client", f"{T}.market"), (f"{T}._client", f"{T}.server"),
    (f"{T}._client", f"{T}.cli"), (f"{T}._client", f"{T}.rehearsal"),
    (f"{T}._client", f"{T}.server_thread"),
    (f"{T}.market", f"{T}.server"), (f"{T}.market", f"{T}.cli"),
    (f"{T}.market", f"{T}._client"), (f"{T}.market", f"{T}.rehearsal"),
    (f"{T}.market", f"{T}.server_thread"),
    (f"{T}.server", f"{T}.cli"),
)
CLIENT_MAY_NOT = (f"{T}.market", f"{T}.server", f"{T}.cli", f"{T}.rehearsal",
                  f"{T}.server_thread")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((SRC / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path, known: Iterable[str]) -> set[str]:
    """The project modules ``name`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    known = set(known)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:  # a submodule by name, else a name from the package
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, mods) for name, path in mods.items()}


def _in(module: str, part: str) -> bool:
    return module == part or module.startswith(part + ".")


def violations(edges: Mapping[str, set[str]]) -> list[str]:
    found = []
    for who, targets in edges.items():
        for target in targets:
            for part, forbidden in FORBIDDEN:
                if _in(who, part) and _in(target, forbidden):
                    found.append(f"{who} imports {target}")
            if who in CLIENT_SIDE and any(_in(target, f) for f in CLIENT_MAY_NOT):
                found.append(f"{who} imports {target}")
    return sorted(set(found))


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan's algorithm).

    A package's ``__init__`` importing its own submodules is not a circle: importing the
    submodule runs the ``__init__`` first by Python's rules, not by an import statement.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_imports_run_one_way() -> None:
    assert violations(graph()) == []


def test_no_import_circle() -> None:
    assert cycles(graph()) == []


def readme_map() -> set[str]:
    """The files the README's module map names, as paths under ``src/``: a ``src/pkg/``
    line opens a package, a ``part/`` entry two columns in opens a part, and what is
    indented deeper than two columns belongs to the part last opened."""
    readme = (SRC.parent / "README.md").read_text()
    start = readme.index("```\nsrc/instamrkt_proto/")
    block = readme[start + 4: readme.index("```", start + 4)]
    named: set[str] = set()
    package, part = "", ""
    for line in block.splitlines():
        words = line.split()
        if line.startswith("src/"):
            package, part = words[0].removeprefix("src/"), ""
            continue
        if not words:
            continue
        if len(line) - len(line.lstrip()) == 2:  # a line of the package itself
            part = words[0] if words[0].endswith("/") else ""
        for word in words:
            if word.endswith(".py"):
                named.add(f"{package}{part}{word}")
    return named


def test_every_file_the_readme_map_names_exists_where_it_says() -> None:
    named = readme_map()
    assert f"{T}/market/ledger.py" in named and "instamrkt_proto/client.py" in named
    assert sorted(p for p in named if not (SRC / p).is_file()) == []


def test_the_four_parts_are_where_the_readme_says() -> None:
    mods = modules()
    for part in ("_client", "market", "server", "cli"):
        assert f"{T}.{part}" in mods, part
    named = readme_map()
    for name in mods:
        if name.startswith(f"{T}.") and name.count(".") == 2:  # a module inside a part
            path = name.replace(".", "/") + ".py"
            assert path in named, f"the README's module map misses {path}"


def test_every_module_is_in_the_readme_map() -> None:
    """A module added anywhere, core or transports, must say in the map what it is for."""
    named = readme_map()
    files = (p for package in PACKAGES for p in (SRC / package).rglob("*.py"))
    missing = sorted(str(p.relative_to(SRC)) for p in files
                     if p.stem not in ("__init__", "__main__")
                     and str(p.relative_to(SRC)) not in named)
    assert missing == []


def test_the_checks_catch_a_broken_rule() -> None:
    """The two checks above would fail on a tree that broke the rules."""
    edges = graph()
    edges[f"{T}.market.pools"] = edges[f"{T}.market.pools"] | {f"{T}.server.websocket"}
    edges[f"{T}._client.driver"] = edges[f"{T}._client.driver"] | {f"{T}.market.ledger"}
    edges["instamrkt_proto.codec"] = edges["instamrkt_proto.codec"] | {f"{T}.rest"}
    edges[f"{T}.anyio"] = edges[f"{T}.anyio"] | {f"{T}.server"}
    assert violations(edges) == sorted([
        f"{T}.market.pools imports {T}.server.websocket",
        f"{T}._client.driver imports {T}.market.ledger",
        f"instamrkt_proto.codec imports {T}.rest",
        f"{T}.anyio imports {T}.server",
    ])
    edges[f"{T}.cli.session"] = edges[f"{T}.cli.session"] | {f"{T}.cli.demo"}
    assert [f"{T}.cli.demo", f"{T}.cli.session"] in cycles(edges)


def test_old_import_paths_that_test_suites_use_still_work() -> None:
    from instamrkt_transports.rehearsal import Faults, Market
    from instamrkt_transports.server import ReferenceServer, ServerThread
    from instamrkt_transports.server_thread import ServerThread as OldServerThread

    assert OldServerThread is ServerThread
    assert ReferenceServer.__module__ == f"{T}.server.websocket"
    assert Faults.__module__ == f"{T}.server.faults"
    assert Market.__module__ == f"{T}.market.market"
