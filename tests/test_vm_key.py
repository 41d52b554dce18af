"""The key of the VM test's cached installed layer (tests/vm/session.py installed_key):
a service the installers do not install (the district: its extra, script, package and
lock file) leaves it alone; what the installers do use changes it. Pure host logic: runs
without QEMU, under GATEHOUSE_VM=0 too."""
from __future__ import annotations

import tomllib
from pathlib import Path

from tests.vm import session

ROOT = Path(__file__).resolve().parents[1]

DISTRICT = """
[project.optional-dependencies]
district = ["nats-py>=2.7", "psycopg[binary]>=3.1", "openpyxl>=3.1"]
"""


def variant(tmp_path: Path, edit) -> str:
    """installed_project of this tree's pyproject.toml after `edit(text) -> text`."""
    path = tmp_path / f"pyproject-{len(list(tmp_path.iterdir()))}.toml"
    path.write_text(edit((ROOT / "pyproject.toml").read_text()))
    tomllib.loads(path.read_text())          # still valid TOML
    return session.installed_project(path)


def test_the_district_extra_script_and_package_leave_the_key_alone(tmp_path):
    now = session.installed_project(ROOT / "pyproject.toml")

    def add_district(text: str) -> str:
        text = text.replace("[project.optional-dependencies]\n",
                            "[project.optional-dependencies]\n" + DISTRICT.split("\n", 2)[2])
        text = text.replace('kiosk = "kiosk.cli:main"\n',
                            'kiosk = "kiosk.cli:main"\ndistrict = "district.cli:main"\n')
        return text.replace('"demo*"]', '"demo*", "district*"]')

    with_district = variant(tmp_path, add_district)
    doc = tomllib.loads((tmp_path / "pyproject-0.toml").read_text())
    assert "district" in doc["project"]["optional-dependencies"]
    assert "district" in doc["project"]["scripts"]
    assert "district*" in doc["tool"]["setuptools"]["packages"]["find"]["include"]
    assert with_district == now


def test_what_the_installers_use_changes_the_key(tmp_path):
    now = session.installed_project(ROOT / "pyproject.toml")
    changed = {
        "the hub command": lambda t: t.replace('hub = "hub.cli:main"', 'hub = "hub.cli2:main"'),
        "a dependency": lambda t: t.replace('"click>=8.1",', '"click>=8.2",'),
        "the gate extra": lambda t: t.replace('"numpy>=1.24",', '"numpy>=2.0",'),
        "a package pattern": lambda t: t.replace('"hub*", ', ''),
        "package data": lambda t: t.replace('"templates/*", "static/*"]\n"kiosk.web"',
                                            '"templates/*"]\n"kiosk.web"'),
    }
    for what, edit in changed.items():
        assert variant(tmp_path, edit) != now, f"{what} changed but the key did not"


def test_only_the_gate_and_hub_lock_files_key_the_layer():
    req = ROOT / "deploy" / "requirements"
    assert not session.other_lock(req / "gate.txt")
    assert not session.other_lock(req / "hub.txt")
    assert session.other_lock(req / "district.txt")
    assert not session.other_lock(ROOT / "deploy" / "install-hub.sh")
