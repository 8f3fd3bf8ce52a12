"""Which code of the spec exists yet: handlers and entrypoints that later work will write.

A handler either does its real job or is absent; absent ones are listed as not implemented
and their functions are not created (invoking them fails as AWS would: function not found).
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from functools import lru_cache
from pathlib import Path


def handler_exists(handler: str) -> bool:
    """True when the module of a ``module.function`` handler can be imported."""
    return module_exists(handler.rpartition(".")[0])


def module_exists(module: str) -> bool:
    """True when ``module`` (a container entrypoint run with ``python -m``) can be imported."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@lru_cache(maxsize=1)
def platform_package_zip() -> bytes:
    """The deployment package: the ``tradai`` package source, as the Pulumi program ships it."""
    import tradai

    root = Path(tradai.__file__).parent
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in {".py", ".json", ".yaml"}:
                info = zipfile.ZipInfo(str(Path("tradai") / path.relative_to(root)))
                info.date_time = (2020, 1, 1, 0, 0, 0)  # same bytes for the same code
                zf.writestr(info, path.read_bytes())
    return buf.getvalue()
