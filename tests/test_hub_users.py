"""Admin-page users: roles, hashed passwords, login throttling and `hub user …`."""
import json

import pytest
from click.testing import CliRunner

from hub import users
from hub.cli import main
from hub.users import Perm, Role, can
from tests.conftest import T0


@pytest.mark.parametrize("role, perm, allowed", [
    (Role.ADMIN, Perm.UNMASK, True), (Role.OFFICE, Perm.UNMASK, False),
    (Role.OFFICE, Perm.BUILDINGS, True), (Role.LEAD, Perm.BUILDINGS, False),
    (Role.LEAD, Perm.ACK, True), (Role.OBSERVER, Perm.TRACE, True),
    (Role.OBSERVER, Perm.ACK, False), (Role.OBSERVER, Perm.POLICY, False),
])
def test_roles(role, perm, allowed):
    assert can(role, perm) is allowed


def test_an_observer_can_only_read():
    assert users.ROLE_PERMISSIONS[Role.OBSERVER] == {Perm.VIEW, Perm.TRACE, Perm.AUDIT}


def test_passwords_are_hashed_and_throttled(compound):
    db = compound.db
    users.add_user(db, "wang", "a long password", "office", T0)
    row = next(db.query("select pw_hash from users"))
    assert "a long password" not in row["pw_hash"] and row["pw_hash"].startswith("scrypt")
    with pytest.raises(users.UserError, match="10 characters"):
        users.add_user(db, "li", "short", "office", T0)
    assert users.authenticate(db, "wang", "a long password", "10.0.0.5", T0).role is Role.OFFICE
    for i in range(users.MAX_FAILURES):
        assert users.authenticate(db, "wang", "nope", "10.0.0.5", T0 + i) is None
    assert users.throttled(db, "wang", "10.0.0.9", T0 + 10) > 0        # by name
    assert users.throttled(db, "zhao", "10.0.0.5", T0 + 10) > 0        # by address
    assert users.throttled(db, "zhao", "10.0.0.9", T0 + 10) == 0
    assert users.throttled(db, "wang", "10.0.0.5", T0 + users.FAILURE_WINDOW_S + 10) == 0


def test_hub_user_add_list_passwd(compound):
    home = str(compound.home.root)
    run = CliRunner().invoke
    r = run(main, ["user", "add", "--home", home, "chen", "--password", "first password 1"])
    assert r.exit_code == 0, r.output
    r = run(main, ["user", "add", "--home", home, "chen", "--password", "first password 1"])
    assert r.exit_code == 1 and "exists" in r.output
    r = run(main, ["user", "list", "--home", home])
    assert json.loads(r.output)["role"] == "admin"
    r = run(main, ["user", "passwd", "--home", home, "chen"],
            input="second password 2\nsecond password 2\n")
    assert r.exit_code == 0, r.output
    assert users.authenticate(compound.db, "chen", "second password 2", "", T0) is not None
    assert compound.db["audit"].count_where("action = 'user.password'") == 1
