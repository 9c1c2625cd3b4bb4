"""Custom voices and voice-designer drafts: the voice half of :class:`gradium.accounts.AccountStore`.

Every method is scoped by ``org_id``: another organisation's voice or draft simply does not exist
(``UnknownVoice``/``UnknownDraft``), so callers answer 404 without leaking that it exists.

Voice samples live beside the database, in ``DATA_DIR/voices/<org_id>/<uid>.<ext>`` (or under
``GRADIUM_VOICES_DIR``, a directory every replica shares). The file is
written before the row (and removed again if the row cannot be written) and removed after the row
is deleted, so a crash can at worst leave an orphan file, never a row without its sample.

Profiles are opaque JSON objects here (``gradium.speech.voice_profile`` defines them), which keeps
the account store free of DSP code.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gradium.accounts.db import custom_voices, utcnow, voice_drafts
from gradium.accounts.errors import UnknownDraft, UnknownVoice, VoiceConflict
from gradium.accounts.models import CustomVoice, VoiceDraft

MAX_VOICES_PER_ORGANISATION = 1000
DRAFT_ID_PREFIX = "vox_emb_"
VOICES_DIRNAME = "voices"
_EXTENSION = re.compile(r"^[a-z0-9]{1,8}$")
_UID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_voice_uid() -> str:
    """16 characters of [A-Za-z0-9], the shape of catalog ids (safe to paste into a URL path)."""
    return "".join(secrets.choice(_UID_ALPHABET) for _ in range(16))


def new_draft_id() -> str:
    return DRAFT_ID_PREFIX + "".join(secrets.choice(_UID_ALPHABET) for _ in range(20))


class VoiceStoreMixin:
    """Voice methods; mixed into AccountStore, which provides the engines and the data directory."""

    _voices_dir: Path
    _engine: Engine
    _writer: Engine

    @property
    def voices_dir(self) -> Path:
        """``DATA_DIR/voices`` unless configured elsewhere (replicas share one directory)."""
        return self._voices_dir

    def sample_path(self, voice: CustomVoice) -> Path | None:
        """Where the voice's audio sample is stored (None for designed voices)."""
        if not voice.filename:
            return None
        return self.voices_dir / str(voice.org_id) / voice.filename

    # Custom voices -------------------------------------------------------------------------------

    def create_voice(
        self,
        org_id: int,
        *,
        name: str,
        language: str | None,
        audio: bytes | None = None,
        extension: str | None = None,
        start_s: float = 0.0,
        description: str | None = None,
        profile: Mapping[str, Any] | None = None,
    ) -> CustomVoice:
        """Store a new voice (with its sample when ``audio`` is given); raises VoiceConflict at the quota."""
        name = name.strip()
        if not name:
            raise ValueError("a voice needs a non-empty name")
        uid = new_voice_uid()
        sample: Path | None = None
        filename = ""
        if audio is not None:
            ext = (extension or "bin").lower()
            if not _EXTENSION.match(ext):
                raise ValueError(f"invalid sample extension {extension!r}")
            filename = f"{uid}.{ext}"
            sample = self.voices_dir / str(org_id) / filename
            _write_atomically(sample, audio)
        try:
            with self._writer.begin() as conn:
                count = conn.scalar(sa.select(sa.func.count()).select_from(custom_voices)
                                    .where(custom_voices.c.org_id == org_id))
                if (count or 0) >= MAX_VOICES_PER_ORGANISATION:
                    raise VoiceConflict(
                        f"voice quota reached: an organisation can have {MAX_VOICES_PER_ORGANISATION} voices")
                conn.execute(sa.insert(custom_voices).values(
                    uid=uid, org_id=org_id, name=name, description=description, language=language,
                    start_s=float(start_s), filename=filename,
                    profile_json=None if profile is None else json.dumps(dict(profile))))
                return _get_voice(conn, org_id, uid)
        except BaseException:
            if sample is not None:
                sample.unlink(missing_ok=True)
            raise

    def get_voice(self, org_id: int, uid: str) -> CustomVoice:
        with self._engine.connect() as conn:
            return _get_voice(conn, org_id, uid)

    def list_voices(self, org_id: int) -> list[CustomVoice]:
        query = (sa.select(custom_voices).where(custom_voices.c.org_id == org_id)
                 .order_by(custom_voices.c.created_at, custom_voices.c.uid))
        with self._engine.connect() as conn:
            return [_voice(row) for row in conn.execute(query).mappings()]

    def update_voice(
        self,
        org_id: int,
        uid: str,
        *,
        name: str | None = None,
        description: str | None = None,
        language: str | None = None,
        start_s: float | None = None,
        profile: Mapping[str, Any] | None = None,
    ) -> CustomVoice:
        """Change the given fields (None leaves a field as it is); returns the updated voice."""
        values: dict[str, Any] = {}
        if name is not None:
            if not name.strip():
                raise ValueError("a voice needs a non-empty name")
            values["name"] = name.strip()
        if description is not None:
            values["description"] = description
        if language is not None:
            values["language"] = language
        if start_s is not None:
            values["start_s"] = float(start_s)
        if profile is not None:
            values["profile_json"] = json.dumps(dict(profile))
        with self._writer.begin() as conn:
            voice = _get_voice(conn, org_id, uid)
            if not values:
                return voice
            values["updated_at"] = utcnow()
            conn.execute(sa.update(custom_voices).where(
                custom_voices.c.uid == uid, custom_voices.c.org_id == org_id).values(**values))
            return _get_voice(conn, org_id, uid)

    def delete_voice(self, org_id: int, uid: str) -> None:
        """Delete the row, then the sample file; raises UnknownVoice."""
        with self._writer.begin() as conn:
            voice = _get_voice(conn, org_id, uid)
            conn.execute(sa.delete(custom_voices).where(
                custom_voices.c.uid == uid, custom_voices.c.org_id == org_id))
        sample = self.sample_path(voice)
        if sample is not None:
            sample.unlink(missing_ok=True)

    # Voice-designer drafts -----------------------------------------------------------------------

    def create_drafts(
        self,
        org_id: int,
        *,
        prompt: str,
        language: str,
        profiles: Sequence[Mapping[str, Any]],
        ttl: timedelta,
    ) -> list[VoiceDraft]:
        """One draft per profile, all expiring ``ttl`` from now; expired drafts are purged first."""
        now = utcnow()
        ids = [new_draft_id() for _ in profiles]
        with self._writer.begin() as conn:
            conn.execute(sa.delete(voice_drafts).where(voice_drafts.c.expires_at < now))
            for embedding_id, profile in zip(ids, profiles, strict=True):
                conn.execute(sa.insert(voice_drafts).values(
                    embedding_id=embedding_id, org_id=org_id, prompt=prompt, language=language,
                    profile_json=json.dumps(dict(profile)), created_at=now, expires_at=now + ttl))
            return [_get_draft(conn, org_id, embedding_id) for embedding_id in ids]

    def get_draft(self, org_id: int, embedding_id: str) -> VoiceDraft:
        """A live draft of the organisation; raises UnknownDraft when missing, expired or foreign."""
        with self._engine.connect() as conn:
            return _get_draft(conn, org_id, embedding_id)

    def promote_draft(
        self, org_id: int, embedding_id: str, *, name: str, description: str | None = None
    ) -> CustomVoice:
        """Turn a draft into a permanent voice; raises VoiceConflict if it was promoted already."""
        with self._writer.begin() as conn:
            draft = _get_draft(conn, org_id, embedding_id)
            if draft.promoted_uid is not None:
                raise VoiceConflict(
                    f"draft '{embedding_id}' was already promoted to voice '{draft.promoted_uid}'")
        voice = self.create_voice(
            org_id, name=name, language=draft.language, description=description, profile=draft.profile)
        with self._writer.begin() as conn:
            updated = conn.execute(sa.update(voice_drafts).where(
                voice_drafts.c.embedding_id == embedding_id, voice_drafts.c.promoted_uid.is_(None),
            ).values(promoted_uid=voice.uid))
        if updated.rowcount != 1:  # promoted concurrently: keep exactly one voice
            self.delete_voice(org_id, voice.uid)
            raise VoiceConflict(f"draft '{embedding_id}' was already promoted")
        return voice


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _get_voice(conn: sa.Connection, org_id: int, uid: str) -> CustomVoice:
    row = conn.execute(sa.select(custom_voices).where(
        custom_voices.c.uid == uid, custom_voices.c.org_id == org_id)).mappings().first()
    if row is None:
        raise UnknownVoice(f"voice '{uid}' not found")
    return _voice(row)


def _voice(row: sa.RowMapping) -> CustomVoice:
    profile = row["profile_json"]
    return CustomVoice(
        uid=row["uid"], org_id=row["org_id"], name=row["name"], description=row["description"],
        language=row["language"], start_s=float(row["start_s"]), filename=row["filename"],
        profile=None if profile is None else json.loads(profile),
        created_at=row["created_at"], updated_at=row["updated_at"])


def _get_draft(conn: sa.Connection, org_id: int, embedding_id: str) -> VoiceDraft:
    row = conn.execute(sa.select(voice_drafts).where(
        voice_drafts.c.embedding_id == embedding_id, voice_drafts.c.org_id == org_id,
        voice_drafts.c.expires_at >= utcnow())).mappings().first()
    if row is None:
        raise UnknownDraft(f"voice draft '{embedding_id}' not found or expired")
    return VoiceDraft(
        embedding_id=row["embedding_id"], org_id=row["org_id"], prompt=row["prompt"],
        language=row["language"], profile=json.loads(row["profile_json"]), created_at=row["created_at"],
        expires_at=row["expires_at"], promoted_uid=row["promoted_uid"])
