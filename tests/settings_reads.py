"""Which settings each function, service and task reads, and what those settings require.

"Reads" comes from the code, not a list: the ``tradai`` modules a component's entry module
imports (its handler's module; ``<package>.__main__`` for ``python -m <package>``), followed
transitively through every ``import`` in the module (function bodies included, so lazy imports
count), and the ``BaseSettings`` subclasses defined in them. A variable is required when its
field has no default or is marked ``tradai.settings.deployed``; a field with several aliases
is satisfied by any of them. Direct ``os.environ["NAME"]`` reads in those modules are required
too.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

import tradai
from tradai.settings import DEPLOYED
from tradai.topology.model import Topology

PLATFORM = Path(tradai.__file__).resolve().parent.parent


@dataclass(frozen=True)
class Component:
    name: str
    kind: str  # function, service, task (tradai.topology.runtime_config)
    entry: str  # the module the runtime starts


@dataclass(frozen=True)
class Requirement:
    names: tuple[str, ...]  # any one of them satisfies it
    source: str  # "module.Class.field" or "module: os.environ[...]"


def components(topo: Topology) -> list[Component]:
    return ([Component(f.name, "function", f.handler.rpartition(".")[0]) for f in topo.lambdas]
            + [Component(s.name, "service", s.entrypoint) for s in topo.services]
            + [Component(t.name, "task", t.entrypoint) for t in topo.task_definitions])


def module_file(module: str) -> Path | None:
    base = PLATFORM / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def entry_module(entry: str) -> str | None:
    """What ``python -m entry`` or a handler import runs; None when the code does not exist."""
    if module_file(f"{entry}.__main__"):
        return f"{entry}.__main__"
    return entry if module_file(entry) else None


@cache
def _imports(module: str) -> frozenset[str]:
    path = module_file(module)
    if path is None:
        return frozenset()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # submodules imported by name
    return frozenset(m for m in found if m.split(".")[0] == "tradai" and module_file(m))


def closure(entry: str) -> set[str]:
    """Every ``tradai`` module importing ``entry`` loads (parent packages included)."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += _imports(module)
    return seen


def _defines_settings(module: str) -> bool:
    """Found by reading, so no module is imported that need not be (a ``__main__`` runs its
    server on import)."""
    path = module_file(module)
    assert path is not None
    return any(isinstance(n, ast.ClassDef) and any(ast.unparse(b).endswith("BaseSettings")
                                                   for b in n.bases)
               for n in ast.walk(ast.parse(path.read_text())))


def settings_classes(modules: set[str]) -> list[type[BaseSettings]]:
    out = []
    for module in sorted(m for m in modules if _defines_settings(m)):
        for _, cls in inspect.getmembers(importlib.import_module(module), inspect.isclass):
            if (issubclass(cls, BaseSettings) and cls is not BaseSettings
                    and cls.__module__ == module):
                out.append(cls)
    return out


def _names(alias: object, field: str) -> tuple[str, ...]:
    if isinstance(alias, str):
        return (alias,)
    if isinstance(alias, AliasChoices):
        return tuple(c for c in alias.choices if isinstance(c, str))
    return (field.upper(),)


def required_of(cls: type[BaseSettings]) -> list[Requirement]:
    out = []
    for name, info in cls.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if info.is_required() or extra.get(DEPLOYED):
            out.append(Requirement(_names(info.validation_alias or info.alias, name),
                                   f"{cls.__module__}.{cls.__qualname__}.{name}"))
    return out


def direct_reads(modules: set[str]) -> list[Requirement]:
    """``os.environ["NAME"]`` loads: the module fails without NAME."""
    out = []
    for module in sorted(modules):
        path = module_file(module)
        assert path is not None
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
                    and ast.unparse(node.value) == "os.environ"
                    and isinstance(node.slice, ast.Constant)
                    and isinstance(node.slice.value, str)):
                out.append(Requirement((node.slice.value,),
                                       f"{module}: os.environ[{node.slice.value!r}]"))
    return out


def requirements(component: Component) -> list[Requirement]:
    entry = entry_module(component.entry)
    if entry is None:
        return []  # no code yet: nothing runs, nothing reads (the spec's "not implemented")
    modules = closure(entry)
    return [r for cls in settings_classes(modules) for r in required_of(cls)] + direct_reads(
        modules)


def gaps(topo: Topology, environments: dict[str, dict[str, object]],
         skip: frozenset[str] = frozenset()) -> list[str]:
    """Each required variable a component does not receive (or receives empty), named."""
    out = []
    for component in components(topo):
        if component.name in skip:
            continue
        env = environments.get(component.name, {})
        for req in requirements(component):
            if not any(env.get(n) not in (None, "") for n in req.names):
                out.append(f"{component.kind} {component.name}: {' or '.join(req.names)} "
                           f"({req.source})")
    return out
