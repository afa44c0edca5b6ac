"""Proof materials: type by content, size by the policy (a field message, not a 413), images
re-encoded without EXIF, random names under the upload folder, served only to the owner and
reviewers with safe headers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests import kinship_factories as kf
from tests.helpers import refused_page
from webapp.extensions import db
from webapp.models import AuditLog, KinshipMaterial

MATERIAL = "/family/add/material"
LETTER = "/family/add/letter"
BAD_TYPE = "仅支持JPG、PNG或PDF格式的文件"


@pytest.fixture
def holder(factory, auth, client):
    """A logged-in holder on the material step for an 8-year-old child."""
    user = factory.user(name="李华", age=35)
    auth.login(user.phone)
    kf.face_pass(user.person)
    child = factory.person(name="李小明", age=8)
    client.post("/family/add/notice", data={"agree": "y"})
    r = client.post("/family/add/info", data={"name": child.name, "id_number": child.id_number,
                                              "relation": "child"})
    assert r.headers["Location"].endswith(MATERIAL)
    return user.person


def post(client, data: bytes, filename: str = "proof.png", material_type: str = "birth_cert"):
    return refused_page(client, client.post(
        MATERIAL, data={"material_type": material_type, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data"))


def post_form(client, data: dict):
    """The material step posted without a file; a refusal followed to its page."""
    return refused_page(client, client.post(MATERIAL, data=data,
                                            content_type="multipart/form-data"))


def page_text(response) -> str:
    return response.get_data(as_text=True)


def stored(app) -> tuple[KinshipMaterial, bytes]:
    material = db.session.scalar(select(KinshipMaterial))
    return material, (Path(app.config["UPLOAD_FOLDER"]) / material.stored_name).read_bytes()


def count() -> int:
    return db.session.scalar(select(func.count(KinshipMaterial.id)))


def error_text(response) -> str:
    page = response.get_data(as_text=True)
    start = page.index('id="file-error"')
    return page[start:page.index("</div>", start)]


def test_png_is_accepted_re_encoded_and_stored_privately(client, holder, app):
    r = post(client, kf.png_bytes())
    assert r.headers["Location"].endswith(LETTER)
    material, data = stored(app)
    assert material.content_type == "image/png" and material.owner_person_id == holder.id
    assert material.stored_name.endswith(".png") and "proof" not in material.stored_name
    assert len(material.stored_name) >= 32
    assert Path(app.config["UPLOAD_FOLDER"]) != Path(app.static_folder)
    assert Image.open(io.BytesIO(data)).size == (320, 240)
    assert db.session.scalar(select(AuditLog).filter_by(action="kinship.material_uploaded"))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_is_dropped(client, holder, app, fmt):
    original = kf.png_bytes(exif=True, fmt=fmt)
    assert b"SecretCam" in original and Image.open(io.BytesIO(original)).getexif()
    assert post(client, original, "photo.jpg" if fmt == "JPEG" else "scan.png").status_code == 302
    material, data = stored(app)
    assert material.content_type == ("image/jpeg" if fmt == "JPEG" else "image/png")
    assert b"SecretCam" not in data and b"secret-software" not in data
    image = Image.open(io.BytesIO(data))
    assert not image.getexif() and "exif" not in image.info


def test_orientation_is_applied(client, holder, app):
    """A portrait photo stored sideways with Orientation=6 is saved upright."""
    image = Image.new("RGB", (400, 200), (200, 200, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    assert post(client, out.getvalue(), "p.jpg").status_code == 302
    _, data = stored(app)
    assert Image.open(io.BytesIO(data)).size == (200, 400)


def test_pdf_is_accepted(client, holder, app):
    assert post(client, kf.pdf_bytes(), "hukou.pdf", "hukou").status_code == 302
    material, data = stored(app)
    assert (material.content_type, material.material_type) == ("application/pdf", "hukou")
    assert data == kf.pdf_bytes()


@pytest.mark.parametrize("data,filename", [
    (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 2000, "photo.jpg"),  # renamed executable
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 500, "scan.png"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
     b'<script>alert(1)</script></svg>', "proof.svg"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "proof.png"),
    (b"<html><body>hi</body></html>", "proof.pdf"),
    (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "cut.pdf"),  # no %%EOF: truncated
    (b"GIF89a" + b"\x00" * 100, "anim.gif"),
])
def test_wrong_content_is_refused_whatever_the_name(client, holder, data, filename):
    r = post(client, data, filename)
    assert r.status_code == 200
    assert BAD_TYPE in error_text(r)
    assert count() == 0


def test_a_broken_image_is_refused(client, holder):
    data = kf.png_bytes()[:200]
    r = post(client, data)
    assert "图片文件已损坏或无法识别，请重新拍摄或选择" in error_text(r)
    assert count() == 0


def test_a_6mb_file_gets_a_field_message_not_a_413(client, holder):
    data = kf.png_bytes() + b"\x00" * (6 * 1024 * 1024)
    r = post(client, data, "big.png")
    assert r.status_code == 200
    assert "文件大小不能超过5MB" in error_text(r)
    assert count() == 0


def test_an_empty_file_is_refused(client, holder):
    r = post(client, b"", "empty.png")
    assert r.status_code == 200
    assert "请选择要上传的文件" in error_text(r) or "文件内容为空" in error_text(r)
    assert count() == 0


def test_no_file_is_refused(client, holder):
    r = post_form(client, {"material_type": "birth_cert"})
    assert "请选择要上传的文件" in error_text(r)


def test_under_16_needs_birth_certificate_or_hukou(client, holder):
    r = post(client, kf.png_bytes(), material_type="id_card")
    page = r.get_data(as_text=True)
    assert "请选择以下材料之一：出生医学证明、户口本" in page
    assert count() == 0


def test_service_refuses_empty_bytes_with_the_empty_message(app, factory):
    from webapp.audit.services import SYSTEM
    from webapp.domain import DomainError
    from webapp.kinship import materials

    owner = factory.person()
    with pytest.raises(DomainError) as err:
        materials.store(owner, "hukou", io.BytesIO(b""), ["hukou"], ["png"], 1000, SYSTEM)
    assert (err.value.field, err.value.message) == ("file", "文件内容为空，请重新选择")


def test_keeping_the_uploaded_file_when_going_back(client, holder, app):
    post(client, kf.png_bytes())
    page = client.get(MATERIAL).get_data(as_text=True)
    assert "已上传出生医学证明共1页" in page
    r = post_form(client, {"material_type": "birth_cert"})
    assert r.headers["Location"].endswith(LETTER)
    r = post_form(client, {"material_type": "hukou"})
    assert "您更换了材料类型，请先删除已上传的页面" in page_text(r)
    page_id = db.session.scalar(select(KinshipMaterial.public_id))
    post_form(client, {"material_type": "birth_cert", "remove": page_id})
    assert count() == 0
    post(client, kf.pdf_bytes(), "h.pdf", "hukou")
    assert count() == 1  # the removed page is gone, the new material has its one page


def test_file_served_to_owner_with_safe_headers(client, holder, app):
    post(client, kf.png_bytes())
    material, data = stored(app)
    r = client.get(f"/family/materials/{material.public_id}")
    assert r.status_code == 200 and r.data == data
    assert r.mimetype == "image/png"
    assert r.headers["Content-Disposition"] == "inline"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "private, no-store"


def test_file_is_404_for_others_and_shown_to_reviewers(client, holder, app, factory, auth):
    post(client, kf.png_bytes())
    material, _ = stored(app)
    url = f"/family/materials/{material.public_id}"
    auth.logout()
    assert client.get(url).status_code in (302, 401)  # anonymous: log in first
    stranger = factory.user(name="王五", age=30)
    auth.login(stranger.phone)
    assert client.get(url).status_code == 404
    assert client.get("/family/materials/does-not-exist").status_code == 404
    auth.logout()
    auth.login(factory.staff("pharmacy").phone)
    assert client.get(url).status_code == 404
    auth.logout()
    auth.login(factory.staff("reviewer").phone)
    assert client.get(url).status_code == 200
