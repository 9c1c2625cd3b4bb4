"""``gradium keys`` / ``gradium orgs`` run as real subprocesses against a data dir in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gradium.accounts import AccountStore


def gradium(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "gradium", *args],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = gradium(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def ok_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir as the server leaves it after its first start."""
    directory = tmp_path / "data"
    store = AccountStore(directory)
    store.migrate()
    assert store.bootstrap(500) is not None
    store.close()
    return directory


def test_orgs_and_keys_round_trip(data_dir: Path) -> None:
    dd = ("--data-dir", str(data_dir))
    org = ok_json("orgs", "create", "acme", "--credits", "70", *dd)
    assert (org["name"], org["remaining_credits"], org["allocated_credits"]) == ("acme", 70, 70)

    created = ok_json("keys", "create", "--org", str(org["id"]), "--name", "ci", *dd)
    assert created["key"].startswith("gd_") and created["org_id"] == org["id"] and not created["is_admin"]

    listed = ok_json("keys", "list", "--org", "acme", *dd)
    assert [entry["id"] for entry in listed] == [created["id"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    assert len(ok_json("keys", "list", *dd)) == 2  # with the bootstrap admin key

    store = AccountStore(data_dir)
    assert store.authenticate(created["key"]) is not None
    out = ok("keys", "revoke", created["prefix"], *dd)
    assert f"Revoked API key {created['id']}" in out
    assert store.authenticate(created["key"]) is None
    assert "already revoked" in ok("keys", "revoke", str(created["id"]), *dd)
    store.close()


def test_keys_create_prints_key_once_and_defaults_to_default_org(data_dir: Path) -> None:
    out = ok("keys", "create", "--admin", "--data-dir", str(data_dir))
    assert "admin API key" in out and "organisation 1 (default)" in out
    plaintext = out.split("API key (shown once, store it safely): ")[1].strip()
    table = ok("keys", "list", "--data-dir", str(data_dir))
    assert plaintext not in table and plaintext[:11] in table
    header = table.splitlines()[0].split()
    assert header == ["ID", "ORG", "NAME", "KEY", "ADMIN", "STATUS", "CREATED", "LAST", "USED"]


def test_grant_and_list_orgs(data_dir: Path) -> None:
    out = ok("orgs", "grant", "default", "25", "--data-dir", str(data_dir))
    assert "525 remaining of 525 allocated" in out
    [org] = ok_json("orgs", "list", "--data-dir", str(data_dir))
    assert (org["id"], org["name"]) == (1, "default")
    assert (org["remaining_credits"], org["allocated_credits"]) == (525, 525)
    assert "default" in ok("orgs", "list", "--data-dir", str(data_dir))


def test_data_dir_from_environment(data_dir: Path, tmp_path: Path) -> None:
    env = {"GRADIUM_DATA_DIR": str(data_dir)}
    assert "default" in ok("orgs", "list", env=env)


def test_user_errors_are_one_line_messages(data_dir: Path, tmp_path: Path) -> None:
    dd = ("--data-dir", str(data_dir))
    cases = [
        (("keys", "revoke", "nosuchkey", *dd), "no API key 'nosuchkey'"),
        (("keys", "create", "--org", "ghost", *dd), "no organisation 'ghost'"),
        (("orgs", "grant", "ghost", "5", *dd), "no organisation 'ghost'"),
        (("orgs", "create", "default", *dd), "already exists"),
        (("orgs", "list", "--data-dir", str(tmp_path / "missing")), "no database at"),
    ]
    # The cases are independent and none writes, so run them side by side to save start-up time.
    with ThreadPoolExecutor(len(cases)) as pool:
        results = list(pool.map(lambda case: gradium(*case[0]), cases))
    for (args, message), result in zip(cases, results, strict=True):
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
    assert not (tmp_path / "missing").exists()
    usage = gradium("orgs", "grant", "default", "0", *dd)
    assert usage.returncode == 2 and "AMOUNT" in usage.stderr


def test_keys_create_without_default_org(tmp_path: Path) -> None:
    dd = ("--data-dir", str(tmp_path / "data"))
    ok("orgs", "create", "acme", *dd)
    result = gradium("keys", "create", *dd)
    assert result.returncode == 1 and "--org" in result.stderr
