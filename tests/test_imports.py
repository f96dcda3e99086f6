"""Layering: colorize_core and spaces never import Ray or Optuna."""

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["colorize_core", "colorize_core.train", "colorize_core.predict", "spaces"])
def test_module_does_not_import_ray_or_optuna(module):
    code = (
        f"import sys, json, {module}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'optuna'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
