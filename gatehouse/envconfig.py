"""Settings dataclasses read from the environment: one reader for every process.

A systemd unit's EnvironmentFile= sets PREFIX_NAME variables; each field of the
dataclass takes its value from PREFIX + NAME.upper(), converted to the type of its
default (booleans: 1/true/yes). Fields named in `fixed` are never read from there.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class SettingError(ValueError):
    """A PREFIX_NAME variable whose value does not fit its setting's type."""


def read_env(cls: type[T], prefix: str, env: Mapping[str, str] | None = None,
             fixed: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    """The keyword arguments for `cls`: environment values, then `overrides` (None ones
    ignored). Defaults stay with the dataclass."""
    env = os.environ if env is None else env
    doc: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = env.get(prefix + f.name.upper())
        if value is None or f.name in fixed or f.default is dataclasses.MISSING:
            continue
        kind = type(f.default)
        try:
            doc[f.name] = value.strip().lower() in ("1", "true", "yes") if kind is bool \
                else kind(value)
        except ValueError:
            raise SettingError(f"{prefix}{f.name.upper()}={value!r}: not a "
                               f"{kind.__name__}") from None
    doc.update({k: v for k, v in overrides.items() if v is not None})
    return doc
