#!/usr/bin/env python3
"""Build src/gradium/catalog/voices.json from the voice tables in the Gradium client docs (the seed).

The seed holds a 14-row "Flagship Voices" table and a longer "All Voices" table. Both went through
a cp1252 round trip at some point ("AmÃ©lie" for "Amélie"); names are repaired here. Where the two
tables disagree, the flagship table wins (it is the curated one, e.g. "conversations" spelled right).

Usage: python scripts/build_catalog.py [SEED] [OUTPUT]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SEED = REPO.parent / "shared" / "seeds" / "000_0f2452c6e0683de3.txt"
DEFAULT_OUTPUT = REPO / "src" / "gradium" / "catalog" / "voices.json"
FIELDS = ("uid", "name", "language", "country", "age_group", "gender", "description")
EXPECTED_VOICES = 239

# UTF-8 lead byte 0xC3 read as cp1252 is "Ã". When its continuation byte was one that cp1252 cannot
# show (0x81 0x8D 0x8F 0x90 0x9D) or an invisible soft hyphen (0xAD), the byte got lost on the way.
# Inside a lowercase word the only plausible lost letter is "í" (0xAD): "MarÃa", "LetÃcia".
_LOST_BYTE = {True: "í", False: "Í"}


def repair(text: str) -> str:
    """Undo cp1252 mojibake, piece by piece so one damaged letter does not block the others."""
    try:
        return text.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass

    def fix(match: re.Match[str]) -> str:
        try:
            return match.group().encode("cp1252").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return match.group()

    fixed = re.sub(r"[\u00c2-\u00f4][\u0080-\u00bf\u0152-\u2122]+", fix, text)

    def lost(match: re.Match[str]) -> str:
        return match.group(1) + _LOST_BYTE[match.group(1).islower()]

    return re.sub(r"(\w)Ã(?=\w)", lost, fixed)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _clean(cell: str) -> str:
    """Drop markdown emphasis/code marks and the (mojibake) flag emoji after country codes."""
    cell = cell.replace("**", "").replace("`", "")
    return cell.split(" ")[0] if re.fullmatch(r"[a-z]{2} .*", cell) else cell


def _rows(lines: list[str], header_word: str) -> list[dict[str, str]]:
    """Rows of the first table after the heading line containing ``header_word``."""
    start = next(i for i, line in enumerate(lines) if line.startswith("###") and header_word in line)
    rows: list[dict[str, str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("##"):
            break
        cells = _cells(line)
        if len(cells) != len(FIELDS) or cells[0].startswith(":") or cells[0] == "Name":
            continue
        name, uid, *rest = (_clean(cell) for cell in cells)
        rows.append(dict(zip(FIELDS, [uid, repair(name), *(repair(cell) for cell in rest)], strict=True)))
    return rows


def build(seed: Path) -> list[dict[str, object]]:
    lines = seed.read_text(encoding="utf-8").splitlines()
    flagship = _rows(lines, "Flagship")
    everyone = _rows(lines, "All Voices")
    voices: dict[str, dict[str, object]] = {}
    for row in flagship:
        voices[row["uid"]] = {**row, "flagship": True}
    for row in everyone:
        voices.setdefault(row["uid"], {**row, "flagship": False})
    result = list(voices.values())
    if len(result) != EXPECTED_VOICES or len(flagship) != 14:
        counts = f"{len(result)} voices / {len(flagship)} flagship"
        raise SystemExit(f"expected {EXPECTED_VOICES} voices / 14 flagship, got {counts}")
    if any("Ã" in str(value) for voice in result for value in voice.values()):
        raise SystemExit("mojibake left after repair")
    return result


def main(argv: list[str]) -> None:
    seed = Path(argv[1]) if len(argv) > 1 else DEFAULT_SEED
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    voices = build(seed)
    output.write_text(json.dumps(voices, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(voices)} voices to {output}")


if __name__ == "__main__":
    main(sys.argv)
