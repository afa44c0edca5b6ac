"""个人承诺书 and 家庭成员添加告知书: the versioned texts, signing, and who may read a letter."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from functools import lru_cache
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from webapp import clock
from webapp.audit.services import Actor
from webapp.domain import DomainError, NotFound
from webapp.extensions import db
from webapp.models import CommitmentLetter, InsuredPerson

CONTENT = Path(__file__).resolve().parent.parent / "content"
DATA_URL_PREFIX = "data:image/png;base64,"
MAX_SIGNATURE_BYTES = 200 * 1024
# A drawn signature has at least this many dark pixels (a dot or an empty pad has fewer).
MIN_INK_PIXELS = 150


@lru_cache(maxsize=16)
def _read(kind: str, version: str) -> str:
    path = CONTENT / f"kinship_{kind}_{version}.md"
    if not path.is_file():
        raise RuntimeError(f"missing content file {path.name}")
    return path.read_text(encoding="utf-8")


def notice_text(version: str, rules) -> str:
    """The 家庭成员添加告知书 of this version, its numbers filled in from the region's policy."""
    return _read("notice", version).format(
        max_members=rules.max_members,
        max_holders_per_month=rules.max_holders_per_month,
        self_confirm_age=rules.self_confirm_age,
        material_max_mb=f"{rules.material_max_bytes / (1024 * 1024):g}",
    )


def letter_text(version: str) -> str:
    """The 个人承诺书 of this version (exact text, the one hashed when signed)."""
    return _read("letter", version)


def text_sha256(text: str) -> str:
    """SHA-256 of the exact UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def blocks(text: str) -> list[tuple[str, str]]:
    """The text as (kind, line) blocks for display: 'h' for '# ' headings, 'p' otherwise."""
    out: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            out.append(("h", line.lstrip("#").strip()))
        else:
            out.append(("p", line))
    return out


def check_typed_name(signer: InsuredPerson, typed_name: str) -> str:
    """The typed name must equal the signer's registry name."""
    typed = (typed_name or "").strip()
    if typed != signer.name:
        raise DomainError("请输入您的真实姓名", field="typed_name")
    return typed


def signature_png(data_url: str) -> bytes:
    """Decode and check a drawn signature (PNG data URL ≤ 200 KB, not blank); re-encoded PNG."""
    missing = DomainError("请在签名区域手写签名", field="signature")
    value = (data_url or "").strip()
    if not value:
        raise missing
    if not value.startswith(DATA_URL_PREFIX):
        raise DomainError("签名格式无效，请重新签名", field="signature")
    payload = value[len(DATA_URL_PREFIX):]
    if len(payload) > MAX_SIGNATURE_BYTES * 4 // 3 + 4:
        raise DomainError("签名图片过大，请清除后重新签名", field="signature")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as err:
        raise DomainError("签名格式无效，请重新签名", field="signature") from err
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise DomainError("签名图片过大，请清除后重新签名", field="signature")
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        raise DomainError("签名格式无效，请重新签名", field="signature")
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            # The size is in the header: checked before any pixel is decoded, since 200 KB of
            # PNG can declare 9000×9000 pixels (about 80 MB of memory for one request, decoded).
            if not (40 <= probe.width <= 4000 and 20 <= probe.height <= 4000):
                raise DomainError("签名格式无效，请重新签名", field="signature")
            probe.verify()
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            rgba = image.convert("RGBA")
    except DomainError:
        raise
    except Exception as err:
        raise DomainError("签名格式无效，请重新签名", field="signature") from err
    # Ink = opaque enough and dark enough, whatever the pad's background was.
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    gray = Image.alpha_composite(white, rgba).convert("L")
    ink = sum(gray.point(lambda v: 255 if v < 160 else 0).histogram()[255:])
    if ink < MIN_INK_PIXELS:
        raise missing
    out = io.BytesIO()
    rgba.save(out, "PNG", optimize=True)
    return out.getvalue()


def sign(
    signer: InsuredPerson,
    version: str,
    typed_name: str,
    signature_data_url: str,
    actor: Actor,
) -> CommitmentLetter:
    """Add the signed letter (caller commits): version, text hash, name, signature, client."""
    typed = check_typed_name(signer, typed_name)
    png = signature_png(signature_data_url)
    letter = CommitmentLetter(
        signer_person_id=signer.id,
        version=version,
        text_sha256=text_sha256(letter_text(version)),
        typed_name=typed,
        signature_png=png,
        signed_at=clock.now(),
        ip=(actor.ip or "")[:45],
        user_agent=(actor.user_agent or "")[:200],
    )
    db.session.add(letter)
    db.session.flush()
    return letter


def letter_for(user, public_id: str) -> CommitmentLetter:
    """A signed letter for its signer or a reviewer; 404 for everyone else."""
    letter = db.session.scalar(
        select(CommitmentLetter).where(CommitmentLetter.public_id == public_id)
    )
    allowed = letter is not None and (
        getattr(user, "role", None) == "reviewer"
        or (getattr(user, "person_id", None) is not None
            and user.person_id == letter.signer_person_id)
    )
    if letter is None or not allowed:
        raise NotFound("承诺书不存在")
    return letter
