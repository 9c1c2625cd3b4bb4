"""The account store against a real SQLite file: keys, credits, usage, migrations."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gradium.accounts import (
    AccountStore,
    AmbiguousKey,
    CreditBalance,
    InsufficientCredits,
    OrganisationExists,
    UnknownKey,
    UnknownOrganisation,
)
from gradium.accounts.db import api_keys, create_engine, metadata, sqlite_url
from gradium.accounts.migrations import migrate

KEY_SHAPE = re.compile(r"^gd_[A-Za-z0-9_-]{40}$")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AccountStore]:
    accounts = AccountStore(tmp_path / "data")
    accounts.migrate()
    yield accounts
    accounts.close()


def _raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Query the file with the stdlib driver, independently of the store's engine."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


# Schema and migrations ---------------------------------------------------------------------------


def test_migrate_twice_is_a_no_op_and_schema_matches_metadata(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "gradium.db")
    migrate(url)
    migrate(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
            assert versions == ["0002"]  # head: bump with each new migration
    finally:
        engine.dispose()


def test_store_uses_wal_and_enforces_foreign_keys(store: AccountStore) -> None:
    assert _raw(store.path, "PRAGMA journal_mode") == [("wal",)]
    engine = create_engine(sqlite_url(store.path))
    try:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.insert(api_keys).values(org_id=999, name="x", prefix="x", key_hash="0" * 64))
    finally:
        engine.dispose()


def test_store_migrate_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    first = AccountStore(tmp_path)
    first.migrate()
    org = first.create_organisation("acme", 5)
    first.migrate()
    first.close()
    second = AccountStore(tmp_path)
    second.migrate()
    assert second.list_organisations() == [org]
    second.close()


# Bootstrap and keys ------------------------------------------------------------------------------


def test_bootstrap_creates_default_org_and_admin_key_only_once(tmp_path: Path) -> None:
    store = AccountStore(tmp_path)
    store.migrate()
    plaintext = store.bootstrap(1234)
    assert plaintext is not None and KEY_SHAPE.match(plaintext)
    assert store.bootstrap(1234) is None
    store.close()

    restarted = AccountStore(tmp_path)
    restarted.migrate()
    assert restarted.bootstrap(99) is None
    [org] = restarted.list_organisations()
    assert (org.name, org.allocated_credits, org.remaining_credits) == ("default", 1234, 1234)
    key = restarted.authenticate(plaintext)
    assert key is not None and key.is_admin and key.org_id == org.id
    assert len(restarted.list_keys()) == 1
    restarted.close()


def test_bootstrap_counts_revoked_keys_as_existing(store: AccountStore) -> None:
    org = store.create_organisation("acme", 0)
    key, _ = store.create_key(org.id, "only")
    store.revoke_key(key.id)
    assert store.bootstrap(10) is None


def test_plaintext_key_is_never_written_to_disk(store: AccountStore, tmp_path: Path) -> None:
    org = store.create_organisation("acme", 10)
    plaintexts = [store.create_key(org.id, f"k{index}")[1] for index in range(3)]
    bootstrap_key = store.bootstrap(1)
    assert bootstrap_key is None  # keys exist already
    store.close()
    # The WAL may still hold the newest pages, so look at every file SQLite wrote.
    stored = b"".join(path.read_bytes() for path in (tmp_path / "data").iterdir())
    for plaintext in plaintexts:
        body = plaintext.removeprefix("gd_")
        assert plaintext.encode() not in stored
        assert body[8:].encode() not in stored  # only the 8-character display prefix is kept
        assert hashlib.sha256(plaintext.encode()).hexdigest().encode() in stored


def test_create_list_and_authenticate_keys(store: AccountStore) -> None:
    acme = store.create_organisation("acme", 10)
    other = store.create_organisation("other", 10)
    key, plaintext = store.create_key(acme.id, "ci", admin=False)
    admin, _ = store.create_key(other.id, "ops", admin=True)
    assert KEY_SHAPE.match(plaintext)
    assert key.prefix == plaintext[3:11] and key.display == f"{plaintext[:11]}..."
    assert key.is_active and not key.is_admin and admin.is_admin
    assert [k.id for k in store.list_keys()] == [key.id, admin.id]
    assert store.list_keys(acme.id) == [key]

    found = store.authenticate(plaintext)
    assert found is not None and found.id == key.id and found.org_id == acme.id
    touched = store.list_keys(acme.id)[0]
    assert touched.last_used_at is not None

    assert store.authenticate("gd_" + "A" * 40) is None
    assert store.authenticate(plaintext[:-1]) is None
    assert store.authenticate("") is None
    assert store.authenticate("not a key at all; DROP TABLE api_keys") is None


def test_create_key_for_unknown_organisation(store: AccountStore) -> None:
    with pytest.raises(UnknownOrganisation):
        store.create_key(42, "nope")
    with pytest.raises(KeyError):
        store.create_key(42, "nope")


def test_revoke_by_id_prefix_or_display_form(store: AccountStore) -> None:
    org = store.create_organisation("acme", 0)
    keys = [store.create_key(org.id, f"k{index}") for index in range(4)]
    refs: list[object] = [keys[0][0].id, keys[1][0].prefix, keys[2][0].display, keys[3][1]]
    for (key, plaintext), ref in zip(keys, refs, strict=True):
        assert store.authenticate(plaintext) is not None
        revoked = store.revoke_key(ref)  # type: ignore[arg-type]
        assert revoked.id == key.id and revoked.revoked_at is not None and not revoked.is_active
        assert store.authenticate(plaintext) is None
    # Revoking again changes nothing, including the original revocation time.
    again = store.revoke_key(keys[0][0].id)
    assert again.revoked_at == store.list_keys()[0].revoked_at


def test_revoke_unknown_or_ambiguous(store: AccountStore) -> None:
    with pytest.raises(UnknownKey):
        store.revoke_key("nosuchkey")
    with pytest.raises(KeyError):
        store.revoke_key(12345)
    org = store.create_organisation("acme", 0)
    first, _ = store.create_key(org.id, "a")
    second, _ = store.create_key(org.id, "b")
    engine = create_engine(sqlite_url(store.path))
    with engine.begin() as conn:  # force a prefix clash, which random keys make unlikely
        conn.execute(sa.update(api_keys).where(api_keys.c.id == second.id).values(prefix=first.prefix))
    engine.dispose()
    with pytest.raises(AmbiguousKey):
        store.revoke_key(first.prefix)
    assert store.revoke_key(second.id).id == second.id


# Organisations and credits -----------------------------------------------------------------------


def test_organisations_and_grants(store: AccountStore) -> None:
    acme = store.create_organisation("acme", 100)
    assert store.credits(acme.id) == CreditBalance(allocated=100, remaining=100)
    with pytest.raises(OrganisationExists):
        store.create_organisation("acme", 1)
    store.charge(acme.id, 30)
    assert store.grant_credits(acme.id, 50) == CreditBalance(allocated=150, remaining=120)
    assert store.find_organisation("acme") == store.find_organisation(str(acme.id))
    assert store.find_organisation(acme.id) == store.get_organisation(acme.id)
    with pytest.raises(ValueError):
        store.grant_credits(acme.id, 0)
    for call in (lambda: store.grant_credits(999, 5), lambda: store.credits(999),
                 lambda: store.charge(999, 1), lambda: store.find_organisation("ghost")):
        with pytest.raises(UnknownOrganisation):
            call()


def test_credit_balance_json_has_both_key_sets() -> None:
    assert CreditBalance(allocated=10, remaining=4).to_json() == {
        "remaining": 4, "allocated": 10, "remaining_credits": 4, "allocated_credits": 10,
        "billing_period": "lifetime", "next_rollover_date": None, "plan_name": "self-hosted",
    }


def test_charge_all_or_nothing(store: AccountStore) -> None:
    org = store.create_organisation("acme", 10)
    assert store.charge(org.id, 4) == 4
    with pytest.raises(InsufficientCredits) as caught:
        store.charge(org.id, 7)
    assert (caught.value.remaining, caught.value.requested) == (6, 7)
    assert store.credits(org.id).remaining == 6
    assert store.charge(org.id, 6) == 6
    assert store.charge(org.id, 0) == 0
    with pytest.raises(ValueError):
        store.charge(org.id, -1)
    assert store.credits(org.id) == CreditBalance(allocated=10, remaining=0)


def test_partial_charge_takes_what_is_left(store: AccountStore) -> None:
    org = store.create_organisation("acme", 10)
    assert store.charge(org.id, 7, allow_partial=True) == 7
    assert store.charge(org.id, 7, allow_partial=True) == 3
    assert store.charge(org.id, 7, allow_partial=True) == 0
    assert store.credits(org.id).remaining == 0


def _hammer(workers: int, task: Callable[[int], None]) -> None:
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        start.wait()
        try:
            task(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.timeout(120)
def test_concurrent_charges_never_overdraw(store: AccountStore, tmp_path: Path) -> None:
    org = store.create_organisation("acme", 1000)
    # A second store is a second engine, like the admin CLI running beside the server.
    other = AccountStore(tmp_path / "data")
    taken: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def charge_many(index: int) -> None:
        target = store if index % 2 else other
        for _ in range(200):
            try:
                amount = target.charge(org.id, 1)
            except InsufficientCredits:
                with lock:
                    refused.append(1)
            else:
                with lock:
                    taken.append(amount)

    _hammer(8, charge_many)
    other.close()
    assert sum(taken) == 1000 and len(refused) == 600
    assert store.credits(org.id) == CreditBalance(allocated=1000, remaining=0)


@pytest.mark.timeout(120)
def test_concurrent_partial_charges_take_exactly_the_balance(store: AccountStore) -> None:
    org = store.create_organisation("acme", 1000)
    taken: list[int] = []
    lock = threading.Lock()

    def charge_many(index: int) -> None:
        for _ in range(60):
            amount = store.charge(org.id, 3, allow_partial=True)
            with lock:
                taken.append(amount)

    _hammer(8, charge_many)
    assert sum(taken) == 1000
    assert taken.count(1) == 1  # 1000 = 333 * 3 + 1: exactly one charge got the odd remainder
    assert store.credits(org.id).remaining == 0


# Usage -------------------------------------------------------------------------------------------


def test_usage_summary_per_service(store: AccountStore) -> None:
    acme = store.create_organisation("acme", 0)
    other = store.create_organisation("other", 0)
    assert store.usage_summary(acme.id) == {
        "services": {}, "total_requests": 0, "total_characters": 0, "total_audio_seconds": 0.0,
        "total_credits": 0,
    }
    store.record_usage(acme.id, "tts", characters=11, audio_seconds=1.25, credits=11)
    store.record_usage(acme.id, "tts", characters=4, audio_seconds=0.5, credits=4)
    store.record_usage(acme.id, "stt", audio_seconds=3.0)
    store.record_usage(other.id, "tts", characters=1000, credits=1000)
    summary = store.usage_summary(acme.id)
    assert summary["services"] == {
        "stt": {"requests": 1, "characters": 0, "audio_seconds": 3.0, "credits": 0},
        "tts": {"requests": 2, "characters": 15, "audio_seconds": 1.75, "credits": 15},
    }
    assert (summary["total_requests"], summary["total_credits"]) == (3, 15)
    assert summary["total_audio_seconds"] == 4.75
    with pytest.raises(ValueError):
        store.record_usage(acme.id, "tts", characters=-1)
    with pytest.raises(ValueError):
        store.record_usage(acme.id, "")


def test_charges_are_booked_with_their_usage_in_one_transaction(store: AccountStore) -> None:
    org = store.create_organisation("ledger", 100)
    usage_id = store.charge_usage(org.id, "tts", 30)
    assert store.charge_usage(org.id, "tts", 20, usage_id) == usage_id
    # Before the request records its counts (a crash here), the ledger already adds up.
    assert store.ledger_problems() == []
    assert store.usage_summary(org.id)["services"]["tts"]["credits"] == 50
    with pytest.raises(InsufficientCredits):
        store.charge_usage(org.id, "tts", 51, usage_id)
    store.refund_usage(org.id, usage_id, 15)
    store.finish_usage(org.id, "tts", usage_id, characters=35, audio_seconds=2.5)
    summary = store.usage_summary(org.id)["services"]["tts"]
    assert (summary["requests"], summary["characters"], summary["credits"]) == (1, 35, 35)
    assert store.credits(org.id).remaining == 65 and store.ledger_problems() == []
    with pytest.raises(ValueError):
        store.refund_usage(org.id, usage_id, 36)  # more than it booked: refused, nothing changes
    assert store.credits(org.id).remaining == 65


def test_ledger_problems_name_an_organisation_that_does_not_add_up(store: AccountStore) -> None:
    org = store.create_organisation("leaky", 100)
    store.charge(org.id, 7)  # the old way: credits gone, no usage row
    (problem,) = store.ledger_problems()
    assert "leaky" in problem and "off by 7" in problem
