"""Whether a strategy class loads, through Freqtrade's own ``StrategyResolver``.

Importing Freqtrade takes several seconds, so the service warms it up in the background at
start; a check before the warm-up finishes just waits for it.
"""

from __future__ import annotations

import copy
import logging
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


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
                return str(exc) or type(exc).__name__
        if type(strategy).__name__ != class_name:
            return f"found {type(strategy).__name__}, not {class_name}"
        return None
