"""Materials of several pages (户口本 首页 + 本人页): each page checked like any upload, a bad
page leaves the others, pages removed before 下一步, the binding names all of them, the table
says how many pages each material takes."""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import select

from tests import kinship_factories as kf
from tests.helpers import refused_page
from tests.test_materials import LETTER, MATERIAL, count, error_text, holder  # noqa: F401
from webapp.extensions import db
from webapp.kinship import pages as material_pages
from webapp.models import KinshipBinding, KinshipMaterial
from webapp.policy import DEFAULT_PATH, PolicyError, load_policy


def send(client, files, material_type="birth_cert", **extra):
    data = {"material_type": material_type, **extra,
            "file": [(io.BytesIO(body), name) for body, name in files]}
    return client.post(MATERIAL, data=data, content_type="multipart/form-data")


def shown_pages(client) -> list[str]:
    page = client.get(MATERIAL).get_data(as_text=True)
    return re.findall(r'name="remove" value="([^"]+)"', page)


def test_pages_are_added_one_by_one_and_the_binding_names_them_all(client, holder):  # noqa: F811
    r = send(client, [(kf.png_bytes(), "first.png")], upload="1")
    assert r.status_code == 302 and r.headers["Location"].endswith(MATERIAL)
    r = send(client, [(kf.pdf_bytes(), "second.pdf")], upload="1")
    assert r.headers["Location"].endswith(MATERIAL)
    assert len(shown_pages(client)) == 2
    r = client.post(MATERIAL, data={"material_type": "birth_cert"},
                    content_type="multipart/form-data")
    assert r.headers["Location"].endswith(LETTER)
    r = client.post(LETTER, data={"typed_name": "李华", "signature": kf.signature_data_url()})
    assert r.status_code == 302
    binding = db.session.scalar(select(KinshipBinding))
    pages = material_pages.pages_of(binding.material)
    assert [p.page_no for p in pages] == [1, 2]
    assert [p.content_type for p in pages] == ["image/png", "application/pdf"]
    assert binding.material_id == pages[0].id and pages[0].set_key == pages[1].set_key


def test_a_bad_page_is_refused_and_the_good_ones_stay(client, holder):  # noqa: F811
    r = send(client, [(kf.png_bytes(), "good.png"), (b"MZ\x90\x00" + b"\x00" * 100, "bad.jpg"),
                      (kf.png_bytes()[:200], "broken.png")])
    assert r.status_code == 303 and r.headers["Location"].endswith(MATERIAL)
    text = error_text(client.get(r.headers["Location"]))
    assert "第2个文件：仅支持JPG、PNG或PDF格式的文件" in text
    assert "第3个文件：图片文件已损坏或无法识别" in text
    assert count() == 1 and len(shown_pages(client)) == 1


def test_a_page_is_removed_before_going_on(client, holder, app):  # noqa: F811
    send(client, [(kf.png_bytes(), "a.png"), (kf.png_bytes(size=(200, 100)), "b.png")],
         upload="1")
    first, second = shown_pages(client)
    r = client.post(MATERIAL, data={"material_type": "birth_cert", "remove": first},
                    content_type="multipart/form-data")
    assert r.headers["Location"].endswith(MATERIAL)
    assert shown_pages(client) == [second] and count() == 1
    r = client.post(MATERIAL, data={"material_type": "birth_cert"},
                    content_type="multipart/form-data")
    assert r.headers["Location"].endswith(LETTER)
    client.post(LETTER, data={"typed_name": "李华", "signature": kf.signature_data_url()})
    binding = db.session.scalar(select(KinshipBinding))
    assert binding.material.public_id == second


def test_someone_elses_page_cannot_be_removed(client, holder, factory):  # noqa: F811
    send(client, [(kf.png_bytes(), "a.png")], upload="1")
    other = factory.person(name="王五", age=30)
    foreign = KinshipMaterial(owner_person_id=other.id, material_type="hukou",
                              stored_name="x" * 36, content_type="image/png", size_bytes=1,
                              sha256="0" * 64)
    db.session.add(foreign)
    db.session.commit()
    client.post(MATERIAL, data={"material_type": "birth_cert", "remove": foreign.public_id},
                content_type="multipart/form-data")
    assert db.session.get(KinshipMaterial, foreign.id) is not None
    assert len(shown_pages(client)) == 1


def test_no_more_pages_than_the_table_allows(client, holder):  # noqa: F811
    send(client, [(kf.png_bytes(), "a.png"), (kf.png_bytes(), "b.png")], upload="1")
    r = refused_page(client, send(client, [(kf.png_bytes(), "c.png")], upload="1"))
    assert "出生医学证明最多上传2页" in error_text(r)
    assert count() == 2


def test_the_step_offers_the_camera_beside_files_and_names_the_pages(client, holder):  # noqa: F811
    page = client.get(MATERIAL).get_data(as_text=True)
    assert 'class="weui-uploader"' in page
    assert re.search(r'type="file" name="file" accept="image/\*" capture="environment"', page)
    assert re.search(r'type="file" name="file" accept="image/jpeg,image/png,application/pdf"'
                     r' multiple', page)
    assert "请上传正面（有内容的一面）" in page and "0/2" in page


def test_table_page_counts_are_checked(tmp_path):
    raw = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert load_policy(DEFAULT_PATH).pages_for("hukou").max == 4
    for bad in ({"hukou": {"min": 3, "max": 2}}, {"nope": {"min": 1, "max": 2}},
                {"hukou": {"min": 0, "max": 2}}, {"hukou": {"max": 2}}):
        path = tmp_path / "policy.json"
        path.write_text(json.dumps({**raw, "material_pages": bad}), encoding="utf-8")
        with pytest.raises(PolicyError):
            load_policy(path)


def test_the_reviewer_sees_every_page(app, client, factory):
    from tests.helpers import login
    from tests.test_review import jiangsu_family, submit
    from webapp.audit.services import SYSTEM
    from webapp.policy import policy_for

    user, child = jiangsu_family(factory)
    rules = policy_for(user.person.region_code).kinship
    key = material_pages.new_set_key()
    for body in (kf.png_bytes(), kf.pdf_bytes()):
        material_pages.add_page(user.person, key, "birth_cert", io.BytesIO(body),
                                ["birth_cert"], rules.material_formats, rules.material_max_bytes,
                                SYSTEM)
    first, second = material_pages.set_pages(user.person, key)
    binding = submit(user.person, child, material=first)
    login(client, factory.staff(role="reviewer", name="审核员刘洋"))
    page = client.get(f"/review/{binding.public_id}").get_data(as_text=True)
    assert "第1页，共2页" in page and "第2页，共2页" in page
    assert f'src="/family/materials/{first.public_id}"' in page
    assert f'href="/family/materials/{second.public_id}"' in page and "打开 PDF 材料" in page
