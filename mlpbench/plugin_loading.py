"""How pytest comes to load mlpbench's plugin (`mlpbench.pytest_plugin`), for code that starts pytest itself.

Installing mlpbench registers the plugin as the pytest11 entry point `mlpbench`, and pytest then loads it by
itself. Where it is not installed (a checkout run from its folder, a virtualenv without the entry point) it
takes `-p mlpbench.pytest_plugin`, and naming it both ways is an error of pytest's ("Plugin already
registered"). This module answers which is needed without importing the plugin (importing it before pytest
registers it would keep pytest from rewriting its assertions).
"""

from __future__ import annotations

import os
from importlib import metadata

MODULE = "mlpbench.pytest_plugin"
"""The plugin's module: the value of the pytest11 entry point `mlpbench`."""


def autoloaded() -> bool:
    """True when pytest loads the plugin by itself: its entry point is installed and autoloading is on."""
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(ep.value == MODULE for ep in metadata.entry_points(group="pytest11"))


def plugin_args() -> list[str]:
    """The pytest arguments that load the plugin: none where it is autoloaded, else `-p mlpbench.pytest_plugin`."""
    return [] if autoloaded() else ["-p", MODULE]
