"""Who is signed in to an office page and what their role may do: the session's user
and role, `allowed(perm)` and the `require(perm)` decorator (403), for the hub's page
(hub/web, hub/users.py's roles) and the district's (district/web/accounts.py's), each
with its own `can(role, perm)`."""
from __future__ import annotations

import functools
from collections.abc import Callable
from enum import Enum

from flask import abort, session


def user() -> str:
    return session.get("user", "")


def role() -> str:
    return session.get("role", "")


class RoleChecks:
    """`allowed` and `require` over one page's permission table."""

    def __init__(self, can: Callable[[str, Enum], bool]):
        self.can = can

    def allowed(self, perm: Enum) -> bool:
        return bool(role()) and self.can(role(), perm)

    def require(self, perm: Enum):
        """Refuse (403) a user whose role lacks `perm`."""
        def wrap(view):
            @functools.wraps(view)
            def inner(*args, **kwargs):
                if not self.allowed(perm):
                    abort(403)
                return view(*args, **kwargs)
            return inner
        return wrap
