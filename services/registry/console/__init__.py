"""The registry's web pages: coordinators keep their BINs' members (served under /console),
members change their own preferences through the signed link in digests and notices
(/preferences/{token}). Pages read the registry's tables; every coordinator action goes to
the JSON API (shared/web/static/console.js), so its rules and events are the API's."""

from __future__ import annotations

from services.registry.console.setup import PageSettings, install

__all__ = ["PageSettings", "install"]
