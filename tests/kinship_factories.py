"""Test helpers for 亲情账户: bindings, face passes, proof files and drawn signatures."""

from __future__ import annotations

import base64
import io
import secrets

from PIL import Image, ImageDraw

from tests.helpers import binding  # noqa: F401 - kf.binding
from webapp import clock
from webapp.extensions import db
from webapp.models import FaceCheck, InsuredPerson, KinshipMaterial


def face_pass(person: InsuredPerson, purpose: str = "kinship_add", count: int = 1) -> None:
    """Give the person ``count`` fresh, unused face-check passes for the purpose."""
    for _ in range(count):
        db.session.add(
            FaceCheck(
                person_id=person.id,
                purpose=purpose,
                nonce=secrets.token_urlsafe(8),
                result="passed",
                checked_at=clock.now(),
            )
        )
    db.session.commit()


def png_bytes(size: tuple[int, int] = (320, 240), exif: bool = False, fmt: str = "PNG") -> bytes:
    """A small picture with some content (optionally carrying EXIF with a GPS tag)."""
    image = Image.new("RGB", size, (240, 240, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, size[0] - 20, size[1] - 20), outline=(20, 40, 120), width=4)
    draw.line((30, 30, size[0] - 30, size[1] - 30), fill=(200, 30, 30), width=5)
    out = io.BytesIO()
    kwargs = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        data[0x0131] = "secret-software"  # Software
        data[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0)}  # GPS IFD
        kwargs["exif"] = data.tobytes()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def jpeg_bytes(exif: bool = False) -> bytes:
    """A JPEG photo (optionally with EXIF)."""
    return png_bytes(exif=exif, fmt="JPEG")


def pdf_bytes() -> bytes:
    """A minimal but well-formed one-page PDF."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def signature_data_url(blank: bool = False) -> str:
    """A drawn signature as signature_pad posts it (transparent PNG with dark strokes)."""
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    if not blank:
        draw = ImageDraw.Draw(image)
        draw.line([(40, 150), (120, 40), (200, 160), (280, 50), (360, 150), (520, 80)],
                  fill=(17, 17, 17, 255), width=6)
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def material(owner: InsuredPerson, material_type: str = "birth_cert") -> KinshipMaterial:
    """A stored proof material for the owner (through the real service)."""
    from webapp.audit.services import SYSTEM
    from webapp.kinship import materials
    from webapp.policy import policy_for

    rules = policy_for(owner.region_code).kinship
    return materials.store(owner, material_type, io.BytesIO(png_bytes()), [material_type],
                           rules.material_formats, rules.material_max_bytes, SYSTEM)
