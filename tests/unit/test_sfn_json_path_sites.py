"""The JSONPath fix (``stepfunctions/json_path.py``) reaches every moto module that imported
``extract_json`` by name: such an import binds the unpatched function, so a site left out
keeps moto's ``[v]`` for ``$.A[0].B`` (the Choice comparators did)."""

from __future__ import annotations

import subprocess
import sys

# In a subprocess: applying the patches here would change moto for every other unit test.
_CHECK = """
import importlib, pkgutil
import moto.stepfunctions.parser as parser
from moto.stepfunctions.parser.asl.utils import json_path
from tradai_sim.cloud.moto_patches import apply_patches, unpatched

original = json_path.extract_json
modules = []
for info in pkgutil.walk_packages(parser.__path__, parser.__name__ + "."):
    try:
        modules.append(importlib.import_module(info.name))
    except ImportError:  # optional extras moto does not install; they cannot run either
        pass
sites = [m for m in modules if getattr(m, "extract_json", None) is original]
assert len(sites) >= 9, [m.__name__ for m in sites]
apply_patches()
missed = [m.__name__ for m in sites
          if m.extract_json is original or unpatched(m.extract_json) is not original]
assert not missed, missed
# and the patched function is the fix: a definite path through an index gives the value
for m in sites:
    assert m.extract_json("$.A[0].B", {"A": [{"B": 3}]}) == 3, m.__name__
print(len(sites))
"""


def test_every_module_that_imported_extract_json_gets_the_fix() -> None:
    proc = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) >= 9
