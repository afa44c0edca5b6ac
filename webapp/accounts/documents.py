"""The versioned documents an account agrees to: 用户协议, 隐私政策 and the separately consented
人脸信息处理规则 (PIPL art. 28/29: face data is sensitive personal information).

Each text lives in ``webapp/content/<kind>_<version>.md`` and is never edited once published:
a change is a new file and a new ``version`` here. Registration stores the versions accepted
(``webapp.accounts.consents``); a logged-in user who accepted an older version of a document
marked ``ask_again`` is asked to accept the new one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from webapp.accounts.states import FACE, PRIVACY, TERMS

CONTENT = Path(__file__).resolve().parent.parent / "content"
# What a version looks like ("2026-01"): anything else in a URL is no file (and never reaches
# the file system, where a long one would be an OSError).
VERSION = re.compile(r"[0-9A-Za-z-]{1,20}")


@dataclass(frozen=True)
class Document:
    """One consented document: its kind, title (as links name it) and current version."""

    kind: str
    title: str
    version: str
    ask_again: bool = True  # ask a logged-in user to accept a new version


DOCUMENTS: dict[str, Document] = {
    TERMS: Document(TERMS, "用户协议", "2026-01"),
    PRIVACY: Document(PRIVACY, "隐私政策", "2026-01"),
    FACE: Document(FACE, "人脸信息处理规则", "2026-01"),
}


def document(kind: str) -> Document:
    """The document of a kind (KeyError for an unknown kind)."""
    return DOCUMENTS[kind]


def current_versions() -> dict[str, str]:
    """kind → the version in force."""
    return {kind: doc.version for kind, doc in DOCUMENTS.items()}


@lru_cache(maxsize=32)
def text(kind: str, version: str) -> str:
    """The exact text of one version (RuntimeError when its file is missing)."""
    path = CONTENT / f"{kind}_{version}.md"
    if kind not in DOCUMENTS or not path.is_file():
        raise RuntimeError(f"missing content file {path.name}")
    return path.read_text(encoding="utf-8")


def renewed() -> tuple[str, ...]:
    """The kinds asked again whose text exists in an earlier version too (only users of
    those can hold an outdated acceptance; with none, nobody needs asking)."""
    return _renewed(str(CONTENT), tuple(sorted(current_versions().items())))


@lru_cache(maxsize=8)
def _renewed(content: str, versions: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    folder = Path(content)
    return tuple(kind for kind, version in versions if DOCUMENTS[kind].ask_again and any(
        p.name != f"{kind}_{version}.md" for p in folder.glob(f"{kind}_*.md")))


def exists(kind: str, version: str) -> bool:
    """Whether that version's text is kept."""
    return kind in DOCUMENTS and VERSION.fullmatch(version) is not None and (
        CONTENT / f"{kind}_{version}.md").is_file()


def text_sha256(kind: str, version: str) -> str:
    """SHA-256 of the exact UTF-8 text of one version (stored with each acceptance)."""
    return hashlib.sha256(text(kind, version).encode("utf-8")).hexdigest()
