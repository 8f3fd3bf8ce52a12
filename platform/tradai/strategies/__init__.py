"""Example Freqtrade strategies that ``up`` registers, with their base configs in ``configs/``.

Freqtrade's ``StrategyResolver`` loads classes from this folder by name.
"""

from pathlib import Path

STRATEGIES_DIR = Path(__file__).parent
CONFIGS_DIR = STRATEGIES_DIR / "configs"
