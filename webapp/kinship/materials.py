"""证明材料: proof uploads for the add-member wizard — type by content, images rebuilt from their
pixels, PDFs refused when they carry scripts, launch actions or attachments; private."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pikepdf
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

log = logging.getLogger(__name__)

# PDF names that run code or carry files, and what the refusal calls them.
PDF_FORBIDDEN = {
    "/JS": "javascript",
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/EmbeddedFiles": "embedded",
    "/EmbeddedFile": "embedded",
    "/FileAttachment": "embedded",
    "/RichMedia": "embedded",
}
PDF_WHAT = {"javascript": "脚本（JavaScript）", "launch": "打开外部程序的操作",
            "embedded": "嵌入的附件"}
MSG_STORAGE = "服务器暂时无法保存文件，请稍后重试"


@dataclass(frozen=True)
class MaterialFile:
    """A material row and the path of its stored file."""

    material: KinshipMaterial
    path: Path

    @property
    def disposition(self) -> str:
        """Images are shown inline; PDFs are downloaded, never rendered in the app's origin."""
        if self.material.content_type == FORMATS["pdf"][0]:
            return 'attachment; filename="material.pdf"'
        return "inline"


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


def pixels_only(image: Image.Image, fmt: str) -> Image.Image:
    """A new image holding only the pixels: no comment, EXIF, ICC profile or text chunk."""
    modes = ("RGB", "L") if fmt == "jpeg" else ("RGB", "RGBA", "L", "LA")
    if image.mode not in modes:
        transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if fmt == "png" and transparent else "RGB")
    return Image.frombytes(image.mode, image.size, image.tobytes())


def reencode_image(data: bytes, fmt: str) -> bytes:
    """Decode and re-encode an image from its pixels: orientation applied, nothing else kept."""
    bad = DomainError("图片文件已损坏或无法识别，请重新拍摄或选择", field="file", code="bad_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != fmt.upper() or probe.width * probe.height > MAX_PIXELS:
                    raise bad
                probe.verify()
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                image = ImageOps.exif_transpose(opened)
    except DomainError:
        raise
    except Exception as err:  # Pillow raises many types for broken files
        raise bad from err
    fresh = pixels_only(image, fmt)
    out = io.BytesIO()
    if fmt == "jpeg":
        fresh.save(out, "JPEG", quality=90, optimize=True)
    else:
        fresh.save(out, "PNG", optimize=True)
    return out.getvalue()


def _pdf_names(obj, seen: set[str]) -> None:
    """Collect the forbidden names in one PDF object and its direct (not referenced) children."""
    if isinstance(obj, pikepdf.Name):
        if str(obj) in PDF_FORBIDDEN:
            seen.add(PDF_FORBIDDEN[str(obj)])
        return
    if isinstance(obj, pikepdf.Stream):
        obj = obj.stream_dict
    if isinstance(obj, pikepdf.Dictionary):
        for key in obj.keys():
            if key in PDF_FORBIDDEN:
                seen.add(PDF_FORBIDDEN[key])
        children = list(obj.values())
    elif isinstance(obj, pikepdf.Array):
        children = list(obj)
    else:
        return
    for child in children:
        if isinstance(child, pikepdf.Object) and not child.is_indirect:
            _pdf_names(child, seen)


def check_pdf(data: bytes) -> None:
    """Refuse a PDF that is broken, encrypted, or carries JavaScript, launch actions or files."""
    seen: set[str] = set()
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            for obj in [pdf.trailer, *pdf.objects]:
                _pdf_names(obj, seen)
    except pikepdf.PasswordError as err:
        raise DomainError("PDF文件已加密，请上传未加密的文件", field="file",
                          code="bad_pdf") from err
    except Exception as err:  # qpdf raises for files it cannot read at all
        raise DomainError("PDF文件已损坏或无法识别，请重新选择", field="file",
                          code="bad_pdf") from err
    if seen:
        what = "、".join(PDF_WHAT[k] for k in PDF_WHAT if k in seen)
        raise DomainError(f"PDF文件含有{what}，出于安全考虑不能上传。"
                          "请另存为普通PDF，或拍照上传图片", field="file", code="unsafe_pdf")


def write_file(path: Path, data: bytes) -> None:
    """Write the file whole or not at all; a disk that refuses it is a Chinese field error."""
    tmp = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as err:
        for leftover in (tmp, path):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
        log.error("upload not stored: %s (%s)", errno.errorcode.get(err.errno or 0, "?"),
                  err.strerror)
        raise DomainError(MSG_STORAGE, field="file", code="storage") from err


def store(
    owner: InsuredPerson,
    material_type: str,
    stream: BinaryIO,
    allowed_types: list[str] | tuple[str, ...],
    formats: list[str] | tuple[str, ...],
    max_bytes: int,
    actor: Actor,
    set_key: str | None = None,
    page_no: int = 1,
) -> KinshipMaterial:
    """Check, clean and store one uploaded proof file for its owner (committed, audited);
    ``set_key``/``page_no`` place it as a page of a material of several pages (pages.py)."""
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
    else:
        check_pdf(data)
    content_type, ext, _ = FORMATS[fmt]
    stored_name = secrets.token_hex(16) + ext
    path = Path(current_app.config["UPLOAD_FOLDER"]) / stored_name
    write_file(path, data)
    try:
        material = KinshipMaterial(
            owner_person_id=owner.id,
            material_type=material_type,
            stored_name=stored_name,
            content_type=content_type,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            set_key=set_key,
            page_no=page_no,
        )
        db.session.add(material)
        db.session.flush()
        audit.record(
            "kinship.material_uploaded",
            actor,
            target=material,
            person=owner,
            detail={"type": material_type, "format": fmt, "bytes": len(data), "page": page_no},
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
    if material is None or not allowed:
        raise NotFound("文件不存在")
    path = upload_folder() / material.stored_name
    if not path.is_file():
        raise NotFound("文件不存在")
    audit.record("material.viewed", actor, target=material,
                 person=db.session.get(InsuredPerson, material.owner_person_id),
                 detail={"role": getattr(user, "role", "")})
    db.session.commit()
    return MaterialFile(material, path)
