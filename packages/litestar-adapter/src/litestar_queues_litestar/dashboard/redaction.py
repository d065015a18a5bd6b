"""Hiding secrets before the dashboard shows them: task arguments, metadata, results, event payloads, URLs."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

__all__ = (
    "DEFAULT_SECRET_KEYS",
    "MASK",
    "KeyRedactor",
    "Redactor",
    "default_redact",
    "mask_url_passwords",
    "redact_field",
    "redact_url",
)

logger = logging.getLogger("litestar_queues.litestar")


class Redactor(Protocol):
    """A redaction hook: ``hook(field, value)`` returns what the dashboard shows for ``value``.

    ``field`` says where the value comes from: ``args``, ``kwargs``, ``metadata``, ``result`` or
    ``payload`` (an event's free data). The hook gets JSON values (dicts, lists, strings, numbers)
    and returns JSON values; it must not change what it is given. A plain function
    ``def hide(field, value): ...`` is one.
    """

    def __call__(self, field: str, value: Any, /) -> Any:
        """Return what the dashboard shows for ``value`` of ``field``."""
        ...


MASK = "••••••"
"""What a hidden value is replaced by."""

DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "api-key",
    "private_key",
    "credential",
    "cookie",
    "session",
)
"""Key fragments whose values :data:`default_redact` hides (case-insensitive, anywhere in a key)."""

# scheme://user:password@host: the password part, whatever the scheme
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?P<password>[^\s@/]+)(?P<at>@)")


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` in it masked."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)


def redact_url(url: str) -> str:
    """A connection URL fit to show: its password and any ``password=`` query value masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_url_passwords(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostinfo}"
    query = re.sub(
        r"(?i)((?:^|&)[^=&]*(?:password|secret|token)[^=&]*=)[^&]*",
        lambda m: f"{m.group(1)}{MASK}",
        parts.query,
    )
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing to hide (and sqlite:///x keeps its three slashes)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class KeyRedactor:
    """A :data:`Redactor` that hides the values stored under secret-looking keys, at any depth.

    A dict entry whose key contains one of ``keys`` (case-insensitively; ``-`` and ``_`` are
    alike) has its value replaced by :data:`MASK`, whatever that value is. Every string left
    visible has the password of any URL in it masked (``redis://user:••••••@host``).

    Args:
        keys: Key fragments to hide (default :data:`DEFAULT_SECRET_KEYS`); pass
            ``(*DEFAULT_SECRET_KEYS, "ssn")`` to add to them.
        mask: What hidden values become.
    """

    __slots__ = ("keys", "mask")

    def __init__(self, keys: tuple[str, ...] = DEFAULT_SECRET_KEYS, *, mask: str = MASK) -> None:
        self.keys = tuple(_normal(k) for k in keys)
        self.mask = mask

    def is_secret(self, key: object) -> bool:
        """Whether a value stored under ``key`` is hidden."""
        name = _normal(str(key))
        return any(fragment in name for fragment in self.keys)

    def __call__(self, field: str, value: Any) -> Any:
        """Return ``value`` with its secrets hidden (``field`` is not used: every field is treated alike)."""
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: self.mask if self.is_secret(k) else self._walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(v) for v in value]
        if isinstance(value, str):
            return mask_url_passwords(value)
        return value


def _normal(key: str) -> str:
    return key.lower().replace("-", "_")


default_redact: Redactor = KeyRedactor()
"""The default hook: hides values under :data:`DEFAULT_SECRET_KEYS` and passwords in URLs."""


def redact_field(redact: Redactor | None, field: str, value: Any) -> Any:
    """Run the hook; a hook that fails hides the whole value (fail closed) and logs why."""
    if redact is None:
        return value
    try:
        return redact(field, value)
    except Exception:
        logger.exception("the dashboard's redact hook failed on a task's %s: the value is hidden", field)
        return f"{MASK} (hidden: the redact hook failed, see the log)"
