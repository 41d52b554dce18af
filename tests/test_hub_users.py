"""Admin-page users: roles, hashed passwords, login throttling and `hub user …`."""
import threading

import sqlite_utils
import json

import pytest
from click.testing import CliRunner

from hub import logins, users
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
    for i in range(logins.MAX_FAILURES):
        assert logins.sign_in(db, "wang", "nope", "10.0.0.5", T0 + i).user is None
    assert logins.throttled(db, "wang", "10.0.0.5", T0 + 10) > 600     # this name here: locked
    assert logins.throttled(db, "wang", "10.0.0.9", T0 + 4.5) == 1     # elsewhere: slowed 1 s
    assert logins.throttled(db, "wang", "10.0.0.9", T0 + 10) == 0
    assert logins.throttled(db, "zhao", "10.0.0.5", T0 + 10) == 0      # the office's NAT: free
    assert logins.throttled(db, "wang", "10.0.0.5", T0 + logins.FAILURE_WINDOW_S + 10) == 0
    assert logins.sign_in(db, "wang", "a long password", "10.0.0.9", T0 + 10).user


def test_a_guesser_of_one_name_is_slowed_everywhere_and_the_office_is_not_locked_out(compound):
    # The attack that worked once: five wrong passwords for "admin" from the office's NAT
    # locked every user behind that address out for 15 minutes.
    db = compound.db
    users.add_user(db, "admin", "a long password", "admin", T0)
    users.add_user(db, "li", "another long one", "office", T0)
    nat = "10.0.0.1"
    for i in range(logins.MAX_FAILURES):
        logins.sign_in(db, "admin", "guess", nat, T0 + i)
    assert logins.throttled(db, "li", nat, T0 + 5) == 0
    assert logins.sign_in(db, "li", "another long one", nat, T0 + 5).user is not None
    # A guesser spread over many addresses: each further try of the name waits longer.
    at, waits = T0 + 10, []
    for n in range(12):
        ip = f"203.0.113.{n}"
        wait = logins.throttled(db, "admin", ip, at)
        waits.append(wait)
        at += wait
        assert logins.sign_in(db, "admin", "guess", ip, at).wait == 0
    assert waits[-1] == logins.MAX_DELAY_S + 1 and waits == sorted(waits)
    # The real admin, from a browser that signed in before, is not slowed at all.
    assert logins.sign_in(db, "admin", "a long password", "10.0.0.7", at, "dev1").user


def test_parallel_tries_count_each_other(compound):
    """Tries raced past the check before any failure was written: 18 of 40 got through."""
    users.add_user(compound.db, "admin", "a long password", "admin", T0)
    path = compound.home.hub_db
    results, start = [], threading.Barrier(20)

    def guess():
        db = sqlite_utils.Database(path)
        db.execute("PRAGMA busy_timeout = 10000")
        start.wait()
        results.append(logins.sign_in(db, "admin", "guess", "10.0.0.66", T0))
        db.close()
    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    checked = [r for r in results if r.wait == 0]
    assert len(results) == 20 and len(checked) == logins.MAX_FAILURES

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
