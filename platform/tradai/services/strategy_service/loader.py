"""Whether a strategy class loads, through Freqtrade's own ``StrategyResolver``.

Importing Freqtrade takes several seconds, so the service warms it up in the background at
start; a check before the warm-up finishes just waits for it.

A registered strategy's source is untrusted input. ``source_problem`` reads it without running
it and refuses a source that defines no class of the given name, or one with no base class;
only a source that passes is imported by the resolver, whose check is the one that counts
(``issubclass(cls, IStrategy)``). Importing it runs its module-level code in this process
(docs/security.md, "Strategy code").
"""

from __future__ import annotations

import ast
import copy
import logging
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


ISTRATEGY = "IStrategy (from freqtrade.strategy)"


def source_problem(class_name: str, source_code: str) -> str | None:
    """Why ``source_code`` cannot hold the strategy ``class_name``, read without running it."""
    try:
        tree = ast.parse(source_code)
    except SyntaxError as exc:
        return f"the source does not parse: line {exc.lineno}: {exc.msg}"
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    defined = [c for c in classes if c.name == class_name]
    if not defined:
        found = ", ".join(c.name for c in classes) or "none"
        return (f"the source defines no class {class_name} (its top-level classes: {found}); "
                f"{class_name} must be a class that subclasses {ISTRATEGY}")
    if not defined[-1].bases:  # the last definition is the one the module keeps
        return f"class {class_name} must subclass {ISTRATEGY}; it has no base class"
    return None


class StrategyLoader:
    def __init__(self, strategies_dir: Path) -> None:
        self.strategies_dir = strategies_dir
        self._user_data = Path(tempfile.mkdtemp(prefix="tradai-strategy-service-"))
        self._warm = threading.Event()
        self._warm_error: BaseException | None = None

    @property
    def ready(self) -> bool:
        return self._warm.is_set() and self._warm_error is None

    def warm_up(self) -> None:
        threading.Thread(target=self._import, name="freqtrade-import", daemon=True).start()

    def _import(self) -> None:
        try:
            import freqtrade.resolvers  # noqa: F401
        except BaseException as exc:  # reported by every check, not swallowed
            self._warm_error = exc
        finally:
            self._warm.set()

    def problem(self, class_name: str, config: Mapping[str, Any],
                source_code: str | None = None) -> str | None:
        """None when the class loads and passes Freqtrade's checks, else the reason."""
        if not self._warm.is_set():
            self._import()  # not warm yet: import here (the import lock serialises the two)
        if self._warm_error is not None:
            return f"Freqtrade is not available: {self._warm_error}"
        if source_code is not None:
            refused = source_problem(class_name, source_code)
            if refused:
                return refused
        from freqtrade.resolvers import StrategyResolver

        with tempfile.TemporaryDirectory(dir=self._user_data) as extra:
            path = self.strategies_dir
            if source_code is not None:
                # A new strategy's source: load it from a folder of its own.
                path = Path(extra)
                (path / f"{class_name.lower()}.py").write_text(source_code)
            cfg = {**copy.deepcopy(dict(config)), "strategy": class_name,
                   "strategy_path": str(path), "user_data_dir": self._user_data}
            try:
                strategy = StrategyResolver.load_strategy(cfg)
            except Exception as exc:
                reason = str(exc) or type(exc).__name__
                if source_code is None:
                    return reason
                # The class is defined (source_problem): the resolver found no IStrategy
                # subclass of that name, or the module failed to import.
                return (f"class {class_name} must subclass {ISTRATEGY} and its module must "
                        f"import without errors (Freqtrade: {reason})")
        if type(strategy).__name__ != class_name:
            return f"found {type(strategy).__name__}, not {class_name}"
        return None
