"""A backend function's module, imported on its own (as Appwrite's runtime does), for tests of its plain helpers."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from sync.server_config import BACKEND


def load_function(name: str) -> ModuleType:
    module_name = f"_backend_function_{name.replace('-', '_')}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, BACKEND / "functions" / name / "src" / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module
