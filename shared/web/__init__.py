"""What the web consoles of every service share: login by token, language, layout, assets.

A console is server-rendered HTML (Jinja2) with one small script; its actions go to the
service's own JSON API (same validation, same errors, same audit), authenticated by the
session cookie that :mod:`shared.web.session` sets. Nothing is loaded from another origin.
"""

from shared.web.console import Console, ConsoleSettings, NavItem

__all__ = ["Console", "ConsoleSettings", "NavItem"]
