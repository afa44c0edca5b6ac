"""证明材料: proof uploads for the add-member wizard — type by content, re-encoded, private."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from PIL import Image, ImageOps
from sqlalchemy import select

from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import DomainError, NotFound
from webapp.extensions import db
from webapp.models import InsuredPerson, KinshipBinding, KinshipMaterial
from webapp.policy import material_label
from webapp.units import size_text

# Content type and file extension per detected format (the policy names which are allowed).
FORMATS = {
    "jpeg": ("image/jpeg", ".jpg", "JPG"),
    "png": ("image/png", ".png", "PNG"),
    "pdf": ("application/pdf", ".pdf", "PDF"),
}
# A decoded image larger than this is refused (decompression bombs), whatever its file size.
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class MaterialFile:
    """A material row and the path of its stored file."""

    material: KinshipMaterial
    path: Path


def upload_folder() -> Path:
    """Where uploads live (instance/uploads by default, outside static)."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def size_message(max_bytes: int) -> str:
    """The field message for a too-large file, from the policy's limit ("文件大小不能超过5MB")."""
    return f"文件大小不能超过{size_text(max_bytes)}"


def accept_attr(formats: list[str] | tuple[str, ...]) -> str:
    """The file input's accept attribute for the allowed formats ("image/jpeg,image/png")."""
    return ",".join(FORMATS[f][0] for f in formats if f in FORMATS)


def formats_text(formats: list[str] | tuple[str, ...]) -> str:
    """The allowed formats in words ("JPG、PNG或PDF")."""
    names = [FORMATS[f][2] for f in formats if f in FORMATS]
    if len(names) <= 1:
        return "".join(names)
    return "、".join(names[:-1]) + "或" + names[-1]


def read_limited(stream: BinaryIO, max_bytes: int) -> bytes:
    """Read the upload, refusing it as soon as it exceeds the limit."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DomainError(size_message(max_bytes), field="file", code="too_large")
    if not data:
        raise DomainError("文件内容为空，请重新选择", field="file", code="empty")
    return data


def sniff(data: bytes) -> str | None:
    """The format by content (magic bytes), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]:
        return "pdf"
    return None


def reencode_image(data: bytes, fmt: str) -> bytes:
    """Decode and re-encode an image: orientation applied, EXIF and every other chunk dropped."""
    bad = DomainError("图片文件已损坏或无法识别，请重新拍摄或选择", field="file", code="bad_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != fmt.upper() or probe.width * probe.height > MAX_PIXELS:
                    raise bad
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
    except DomainError:
        raise
    except Exception as err:  # Pillow raises many types for broken files
        raise bad from err
    out = io.BytesIO()
    if fmt == "jpeg":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=90, optimize=True)
    else:
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def store(
    owner: InsuredPerson,
    material_type: str,
    stream: BinaryIO,
    allowed_types: list[str] | tuple[str, ...],
    formats: list[str] | tuple[str, ...],
    max_bytes: int,
    actor: Actor,
) -> KinshipMaterial:
    """Check, clean and store one uploaded proof file for its owner (committed, audited)."""
    if material_type not in allowed_types:
        allowed = "、".join(material_label(t) for t in allowed_types)
        raise DomainError(f"请选择以下材料之一：{allowed}", field="material_type")
    data = read_limited(stream, max_bytes)
    fmt = sniff(data)
    if fmt is None or fmt not in formats:
        raise DomainError(
            f"仅支持{formats_text(formats)}格式的文件", field="file", code="bad_type"
        )
    if fmt in ("jpeg", "png"):
        data = reencode_image(data, fmt)
    content_type, ext, _ = FORMATS[fmt]
    stored_name = secrets.token_hex(16) + ext
    path = upload_folder() / stored_name
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    try:
        material = KinshipMaterial(
            owner_person_id=owner.id,
            material_type=material_type,
            stored_name=stored_name,
            content_type=content_type,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        db.session.add(material)
        db.session.flush()
        audit.record(
            "kinship.material_uploaded",
            actor,
            target=material,
            person=owner,
            detail={"type": material_type, "format": fmt, "bytes": len(data)},
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return material


def owned(owner: InsuredPerson, public_id: str | None) -> KinshipMaterial | None:
    """The owner's material with this public id, or None."""
    if not public_id:
        return None
    return db.session.scalar(
        select(KinshipMaterial).where(
            KinshipMaterial.public_id == public_id,
            KinshipMaterial.owner_person_id == owner.id,
        )
    )


def discard_unused(owner: InsuredPerson, public_id: str | None) -> None:
    """Delete a draft's material (row and file) unless a binding already uses it."""
    material = owned(owner, public_id)
    if material is None:
        return
    used = db.session.scalar(
        select(KinshipBinding.id).where(KinshipBinding.material_id == material.id)
    )
    if used:
        return
    path = upload_folder() / material.stored_name
    db.session.delete(material)
    db.session.commit()
    path.unlink(missing_ok=True)


def file_for(user, public_id: str, actor: Actor) -> MaterialFile:
    """The material and its file, for its owner or a reviewer (audited); 404 for anyone else."""
    material = db.session.scalar(
        select(KinshipMaterial).where(KinshipMaterial.public_id == public_id)
    )
    allowed = material is not None and (
        getattr(user, "role", None) == "reviewer"
        or (getattr(user, "person_id", None) is not None
            and user.person_id == material.owner_person_id)
    )
    if not allowed:
        raise NotFound("文件不存在")
    path = upload_folder() / material.stored_name
    if not path.is_file():
        raise NotFound("文件不存在")
    audit.record("material.viewed", actor, target=material,
                 person=db.session.get(InsuredPerson, material.owner_person_id),
                 detail={"role": getattr(user, "role", "")})
    db.session.commit()
    return MaterialFile(material, path)
