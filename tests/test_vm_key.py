"""The key of the VM test's cached installed layer (tests/vm/session.py installed_key):
a service the installers do not install (the district: its extra, script, package and
lock file) leaves it alone; what the installers do use changes it. Pure host logic: runs
without QEMU, under GATEHOUSE_VM=0 too."""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path

from tests.vm import session

ROOT = Path(__file__).resolve().parents[1]
DOC = tomllib.loads((ROOT / "pyproject.toml").read_text())


def edited(edit) -> str:
    doc = copy.deepcopy(DOC)
    edit(doc)
    return session.installed_settings(doc)


def with_district(doc: dict) -> None:
    project, setuptools = doc["project"], doc["tool"]["setuptools"]
    project["optional-dependencies"]["district"] = ["nats-py>=2.6", "psycopg[binary]>=3.1"]
    project["scripts"]["district"] = "district.cli:main"
    include = setuptools["packages"]["find"]["include"]
    include.append("district*") if "district*" not in include else None
    setuptools["package-data"]["district.web"] = ["templates/*", "static/*"]
    setuptools["package-data"]["district"] = ["systemd/*"]


def without_district(doc: dict) -> None:
    project, setuptools = doc["project"], doc["tool"]["setuptools"]
    project["optional-dependencies"].pop("district", None)
    project["scripts"].pop("district", None)
    find = setuptools["packages"]["find"]
    find["include"] = [p for p in find["include"] if p != "district*"]
    setuptools["package-data"].pop("district.web", None)
    setuptools["package-data"].pop("district", None)


def test_the_district_extra_script_package_and_its_data_leave_the_key_alone():
    assert session.installed_project(ROOT / "pyproject.toml") == edited(with_district) \
        == edited(without_district)


def test_what_the_installers_use_changes_the_key():
    now = edited(with_district)

    def change(fn):
        def edit(doc):
            with_district(doc)
            fn(doc)
        return edited(edit)
    changed = {
        "the hub command": lambda d: d["project"]["scripts"].update(hub="hub.cli2:main"),
        "a dependency": lambda d: d["project"]["dependencies"].append("extra-lib>=1"),
        "the gate extra": lambda d: d["project"]["optional-dependencies"]["gate"].append("x>=1"),
        "a package pattern": lambda d: d["tool"]["setuptools"]["packages"]["find"]["include"]
        .remove("hub*"),
        "the hub's package data": lambda d: d["tool"]["setuptools"]["package-data"]
        .update({"hub.web": ["templates/*"]}),
        "the version": lambda d: d["project"].update(version="9.9.9"),
    }
    for what, fn in changed.items():
        assert change(fn) != now, f"{what} changed but the key did not"


def test_only_the_gate_and_hub_lock_files_key_the_layer():
    req = ROOT / "deploy" / "requirements"
    assert not session.other_lock(req / "gate.txt")
    assert not session.other_lock(req / "hub.txt")
    assert session.other_lock(req / "district.txt")
    assert not session.other_lock(ROOT / "deploy" / "install-hub.sh")
