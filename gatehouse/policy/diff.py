"""What changed between two policies, field by field, in words an office can read."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatehouse.policy.model import Policy


@dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any

    def __str__(self) -> str:
        return f"{self.path}: {_show(self.before)} -> {_show(self.after)}"


def _show(v: Any) -> str:
    return "(none)" if v is None else str(v)


def _flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: doc}


def diff(old: Policy, new: Policy) -> list[Change]:
    """Every leaf field whose value differs, the version number aside."""
    a, b = _flatten(old.to_json()), _flatten(new.to_json())
    return [Change(p, a.get(p), b.get(p)) for p in sorted(set(a) | set(b))
            if p != "version" and a.get(p) != b.get(p)]
