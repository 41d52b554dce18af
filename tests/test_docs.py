"""The docs keep up with the code: every reason and every command is documented."""
import re
from pathlib import Path

import click

from gatehouse.policy import Reason
from hub.cli import main as hub_cli
from kiosk.cli import main as kiosk_cli

DOCS = Path(__file__).parent.parent / "docs"
README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_reason_is_in_the_policy_doc():
    text = (DOCS / "policy.md").read_text()
    assert [r.value for r in Reason if f"`{r.value}`" not in text] == []


def _commands(group: click.Group, prefix: str):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", cmd


def test_every_command_has_help_text():
    for name, cmd in [*_commands(hub_cli, "hub"), *_commands(kiosk_cli, "kiosk")]:
        assert cmd.help, f"{name} has no help text"


def test_readme_opens_with_the_two_commands():
    head = README.split("## ")[0]
    assert "./scripts/demo" in head and "./scripts/test" in head


def test_the_permission_table_in_the_admin_doc_is_the_code_s():
    from hub.users import ROLE_PERMISSIONS, Perm, Role
    text = (DOCS / "admin.md").read_text()
    roles = (Role.ADMIN, Role.OFFICE, Role.LEAD, Role.OBSERVER)  # the table's columns
    for perm in Perm:
        row = re.search(rf"^\| `{perm.value}` \|(.*)$", text, re.MULTILINE)
        assert row, f"permission {perm.value} is not in docs/admin.md"
        marks = [cell.strip() == "✓" for cell in row[1].split("|")[:len(roles)]]
        assert marks == [perm in ROLE_PERMISSIONS[r] for r in roles], perm.value


def test_every_screen_the_docs_show_exists():
    for doc in [*DOCS.glob("*.md"), DOCS.parent / "README.md"]:
        for target in re.findall(r"\]\(((?:docs/)?screens/[^)]+)\)", doc.read_text()):
            assert (doc.parent / target).is_file(), f"{doc.name}: {target}"


def test_the_security_doc_names_real_tests_and_every_security_test():
    """docs/security.md's attack table and the tests agree (a renamed test fails here)."""
    text = (DOCS / "security.md").read_text()
    named: set[str] = set()
    for cell in re.findall(r"`(tests/test_[a-z_]+\.py)::(test_\w+)`((?:, `::test_\w+`)*)", text):
        path, first, more = cell
        for name in [first, *re.findall(r"::(test_\w+)", more)]:
            named.add(f"{path}::{name}")
    assert named
    tests = DOCS.parent / "tests"
    for ref in sorted(named):
        path, name = ref.split("::")
        assert re.search(rf"^def {name}\(", (DOCS.parent / path).read_text(), re.MULTILINE), \
            f"docs/security.md names {ref}, which does not exist"
    for path in tests.glob("test_security_*.py"):
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(), re.MULTILINE):
            if "host_names_are_read" in name or "allowlist_refuses" in name or \
                    "answers_its_names" in name or "real_gate_payload" in name:
                continue  # parsing details and the good path, not attacks
            assert f"tests/{path.name}::{name}" in named, f"{name} is not in docs/security.md"
