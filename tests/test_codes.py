"""医保码: issue, refresh, validity, single use, who may get one, QR content, purge."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from tests.helpers import login  # noqa: F401 - other modules import it from here
from webapp import clock
from webapp.audit.services import Actor
from webapp.codes import services as codes
from webapp.extensions import db
from webapp.models import AuditLog, InsuranceCode, KinshipBinding

CODE_RE = re.compile(rf"^[{codes.ALPHABET}]{{{codes.CODE_LENGTH}}}$")


# ---- helpers shared by the 医保码 / pharmacy / records tests -------------------------------

def bind(holder, member, relation: str = "child", status: str = "active") -> KinshipBinding:
    """A 亲情账户 binding between two registry people (committed)."""
    binding = KinshipBinding(
        holder_person_id=holder.id, member_person_id=member.id, relation=relation,
        status=status, region_code=holder.region_code,
        bound_at=clock.now() if status == "active" else None,
    )
    db.session.add(binding)
    db.session.commit()
    return binding


def end(binding: KinshipBinding) -> None:
    """End a binding the way 解除绑定 does (status 已解除)."""
    binding.status = "ended"
    binding.ended_at = clock.now()
    binding.ended_by = "holder"
    db.session.commit()


def issue(user, key: str = "me") -> codes.IssuedCode:
    """Issue a code through the service."""
    return codes.issue_code(user, key, Actor(user=user))


def family(factory):
    """A mother (employee insured, user) and her son 张小明 (8, employee, balance ¥20.00)."""
    mother = factory.user(name="李红", age=38, male=False)
    child = factory.person(name="张小明", age=8, balance_fen=2000)
    binding = bind(mother.person, child, "child")
    return mother, child, binding


def rasterize(svg: str, scale: int = 8) -> Image.Image:
    """Draw the SVG's path (runs 'M x y h w v1 h-w z') into a PNG-able image, no SVG library."""
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        x, y, w = int(x), int(y), int(w)
        draw.rectangle([x * scale, y * scale, (x + w) * scale - 1, (y + 1) * scale - 1], fill=0)
    return image


# ---- the code itself ---------------------------------------------------------------------

def test_code_strings_are_opaque_uppercase_and_random():
    """18 characters of a 32-letter alphabet without 0/O/1/I: 90 bits, all distinct."""
    made = {codes.new_code_string() for _ in range(2000)}
    assert len(made) == 2000
    assert all(CODE_RE.match(c) for c in made)
    assert len(codes.ALPHABET) == 32 and not set("01IO") & set(codes.ALPHABET)
    assert codes.CODE_LENGTH * 5 >= 80


def test_normalize_accepts_spaces_dashes_and_lowercase():
    """What a person types from the digits under the QR matches the code."""
    assert codes.normalize(" abcdef-ghjkmn pqrstu\n") == "ABCDEFGHJKMNPQRSTU"


def test_qr_svg_is_small_has_no_style_and_decodes_to_only_the_code(app, factory):
    """The QR holds the opaque code only (decoded with zxing-cpp), version 1, no style=."""
    zxingcpp = pytest.importorskip("zxingcpp")
    user = factory.user(name="张小明", age=30)
    issued = issue(user)
    svg = str(codes.qr_svg(issued.code))
    assert "style" not in svg and "<script" not in svg
    assert 'viewBox="0 0 29 29"' in svg  # 21 modules (version 1) + 2×4 quiet zone
    results = zxingcpp.read_barcodes(rasterize(svg))
    assert [r.text for r in results] == [issued.code]
    text = results[0].text
    person = user.person
    for secret in (person.name, person.id_number, person.phone, person.id_number[-4:]):
        assert secret not in text
    assert CODE_RE.match(text)


def test_qr_codewords_are_the_librarys_for_every_version_and_level():
    """webapp.qr.codewords (table-driven Reed–Solomon, for the 医保码's QR) gives exactly
    qrcode's own create_data: every version and level, alphanumeric and byte data, one and
    several blocks; and a fast QR still decodes (test above) to its code."""
    import random

    import qrcode
    from qrcode import util

    from webapp.qr import codewords

    rng = random.Random(13)
    compared = 0
    for version in range(1, 41):
        for level in range(4):
            for text in ("".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                                 for _ in range(rng.randint(1, 18))),
                         bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 6 * version)))):
                qr = qrcode.QRCode(version=version, error_correction=level)
                qr.add_data(text, optimize=0)
                try:
                    expected = util.create_data(version, level, qr.data_list)
                except qrcode.exceptions.DataOverflowError:
                    continue
                assert codewords(version, level, qr.data_list) == expected, (version, level)
                compared += 1
    assert compared > 250


def test_fast_qr_rows_are_the_librarys_modules():
    """webapp.qr.fast_rows (the 医保码's QR from a layout made once) places every module where
    qrcode's own map_data puts it, for 2 000 codes; fixed patterns, mask and all."""
    from webapp.qr import fast_rows, qr_matrix

    for _ in range(2000):
        code = codes.new_code_string()
        size, rows = fast_rows(code)
        expected = qr_matrix(code, fast=True)
        assert size == len(expected)
        assert rows == [int("".join("1" if dark else "0" for dark in row), 2)
                        for row in expected], code


def test_invitation_link_qr_decodes_to_the_link():
    """The same SVG writer draws long invitation links (any version, mask searched)."""
    zxingcpp = pytest.importorskip("zxingcpp")
    from webapp import qr

    link = "http://192.168.1.20:5000/invite/" + "k" * 43
    svg = str(qr.link_svg(link))
    assert "style" not in svg and 'aria-label="邀请链接二维码"' in svg
    assert [r.text for r in zxingcpp.read_barcodes(rasterize(svg))] == [link]


# ---- issuing and refreshing ----------------------------------------------------------------

def test_own_code_page_shows_masked_name_id_countdown_and_is_not_cached(app, client, factory):
    """本人: QR inline, 张*明 and a masked ID, the countdown, Cache-Control no-store."""
    user = factory.user(name="张小明", age=30)
    login(client, user)
    response = client.get("/code/me")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert "<svg" in html and "张*明" in html and "张小明" not in html
    assert user.person.id_number not in html
    assert user.person.id_number[:4] + "**********" + user.person.id_number[-4:] in html
    assert 'data-refresh-seconds="60"' in html and 'data-valid-seconds="90"' in html
    assert "代 " not in html
    assert ' style="' not in html


def test_refresh_returns_a_new_code_as_json_without_caching(app, client, factory):
    """Each refresh is a different code with the policy's timing, never cached."""
    user = factory.user()
    login(client, user)
    first = client.post("/code/me/refresh").get_json()
    second = client.post("/code/me/refresh")
    assert second.status_code == 200
    assert "no-store" in second.headers["Cache-Control"]
    body = second.get_json()
    assert body["code"] != first["code"] and CODE_RE.match(body["code"])
    assert (body["refresh_in"], body["expires_in"]) == (60, 90)
    assert body["svg"].startswith("<svg") and "style" not in body["svg"]
    assert db.session.scalar(select(func.count(InsuranceCode.id))) == 2


def test_refresh_needs_post(app, client, factory):
    """A GET cannot mint codes (no side effects on GET)."""
    login(client, factory.user())
    assert client.get("/code/me/refresh").status_code == 405


def test_only_the_hash_of_a_code_is_stored(app, factory):
    """The clear code is nowhere in the table."""
    issued = issue(factory.user())
    row = db.session.scalar(select(InsuranceCode))
    assert row.code_hash == codes.hash_code(issued.code) and issued.code not in row.code_hash


def test_code_is_valid_for_the_policy_seconds(app, client, factory):
    """Valid at 89 s, expired at 90 s (status poll says so)."""
    user = factory.user()
    login(client, user)
    start = clock.now()
    with clock.frozen_at(start):
        issued = issue(user)
    with clock.frozen_at(start + timedelta(seconds=89)):
        assert client.post("/code/me/status", data={"c": issued.code}).get_json()["state"] == "valid"
    with clock.frozen_at(start + timedelta(seconds=90)):
        body = client.post("/code/me/status", data={"c": issued.code}).get_json()
    assert body == {"state": "expired", "message": "该码已失效，已为您刷新"}


def test_holder_gets_relatives_code_with_banner_and_audit(app, client, factory):
    """A parent shows the child's code: banner 代 张*明（儿子）出示; audited for the child."""
    mother, child, binding = family(factory)
    login(client, mother)
    html = client.get(f"/code/{binding.public_id}").get_data(as_text=True)
    assert "代 张*明（儿子）出示" in html
    assert child.id_number not in html and "张小明" not in html
    row = db.session.scalar(select(InsuranceCode))
    assert (row.person_id, row.holder_person_id, row.binding_id) == (
        child.id, mother.person.id, binding.id)
    audits = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "code.issued_for_relative")).all()
    assert len(audits) == 1 and audits[0].subject_person_id == child.id
    assert audits[0].actor_user_id == mother.id


def test_own_code_is_not_audited(app, factory):
    """Own codes (one a minute while the page is open) do not flood the audit trail."""
    issue(factory.user())
    assert db.session.scalar(select(func.count(AuditLog.id))) == 0


def test_picker_lists_me_and_active_relatives_only(app, client, factory):
    """本人 + 已绑定 relatives; pending and ended bindings are not offered."""
    mother, child, binding = family(factory)
    pending = bind(mother.person, factory.person(name="王芳", age=60, male=False), "parent",
                   status="pending_confirm")
    ended = bind(mother.person, factory.person(name="赵强", age=40), "spouse")
    end(ended)
    login(client, mother)
    html = client.get("/code/").get_data(as_text=True)
    assert "/code/me" in html and f"/code/{binding.public_id}" in html
    assert pending.public_id not in html and ended.public_id not in html
    assert "张*明" in html and "儿子" in html


def test_someone_elses_binding_is_404(app, client, factory):
    """A foreign user naming another holder's binding learns nothing: 404."""
    _, _, binding = family(factory)
    stranger = factory.user(name="陈某", age=50)
    login(client, stranger)
    assert client.get(f"/code/{binding.public_id}").status_code == 404
    refused = client.post(f"/code/{binding.public_id}/refresh")
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "unknown_subject"
    assert client.get("/code/not-a-binding").status_code == 404
    assert db.session.scalar(select(func.count(InsuranceCode.id))) == 0


def test_pending_binding_gives_no_code(app, client, factory):
    """待确认 is not 已绑定: no code."""
    mother = factory.user(name="李红", age=38, male=False)
    binding = bind(mother.person, factory.person(name="张小红", age=20, male=False), "child",
                   status="pending_confirm")
    login(client, mother)
    assert client.get(f"/code/{binding.public_id}").status_code == 404


def test_ended_binding_stops_the_next_refresh(app, client, factory):
    """The page worked; the binding ends; the next refresh and status poll are refused."""
    mother, child, binding = family(factory)
    login(client, mother)
    assert client.post(f"/code/{binding.public_id}/refresh").status_code == 200
    end(binding)
    refused = client.post(f"/code/{binding.public_id}/refresh")
    assert refused.status_code == 403
    assert refused.get_json()["error"] == {"code": "binding_ended", "message": "绑定已解除，无法继续出示"}
    assert client.post(f"/code/{binding.public_id}/status", data={"c": "X"}).status_code == 403
    assert client.get(f"/code/{binding.public_id}").status_code == 403


def test_staff_cannot_get_codes(app, client, factory):
    """Pharmacy staff have no 医保码 pages."""
    login(client, factory.staff())
    assert client.get("/code/").status_code == 403
    assert client.post("/code/me/refresh").status_code == 403


def test_anonymous_is_sent_to_login(app, client):
    """Not logged in → the login page."""
    response = client.get("/code/me")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_status_only_looks_at_the_users_own_codes(app, client, factory):
    """Polling someone else's code string says nothing about it."""
    other = issue(factory.user(name="陈某"))
    user = factory.user()
    login(client, user)
    assert client.post("/code/me/status", data={"c": other.code}).get_json()["state"] == "unknown"


# ---- purge -----------------------------------------------------------------------------------

def _age_codes(n_old: int, n_recent: int, user) -> None:
    start = clock.now()
    with clock.frozen_at(start - timedelta(hours=2)):
        for _ in range(n_old):
            issue(user)
    with clock.frozen_at(start - timedelta(minutes=30)):
        for _ in range(n_recent):
            issue(user)


def test_purge_cli_deletes_codes_expired_over_an_hour(app, runner, factory):
    """`flask codes purge` removes old codes and keeps recent ones."""
    user = factory.user()
    _age_codes(7, 3, user)
    result = runner.invoke(args=["codes", "purge", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "7" in result.output
    assert db.session.scalar(select(func.count(InsuranceCode.id))) == 3


def test_issuing_never_purges_old_codes_that_is_the_scheduled_purges_job(app, factory):
    """The hot path writes its one INSERT only, however many old codes wait for the purge."""
    user = factory.user()
    _age_codes(5, 2, user)
    for expected in (8, 9, 10):
        issue(user)
        assert db.session.scalar(select(func.count(InsuranceCode.id))) == expected


def test_refresh_and_status_need_the_csrf_header(app, client, factory):
    """With CSRF on, the JSON endpoints refuse a POST without the page's token."""
    app.config["WTF_CSRF_ENABLED"] = True
    login(client, factory.user())
    html = client.get("/code/me").get_data(as_text=True)
    token = re.search(r'data-csrf="([^"]+)"', html).group(1)
    assert client.post("/code/me/refresh").status_code == 400
    assert client.post("/code/me/status", data={"c": "X"}).status_code == 400
    fresh = client.post("/code/me/refresh", headers={"X-CSRFToken": token})
    assert fresh.status_code == 200
    polled = client.post("/code/me/status", data={"c": fresh.get_json()["code"]},
                         headers={"X-CSRFToken": token})
    assert polled.get_json()["state"] == "valid"


def test_codes_to_watch_follows_the_policy(app):
    """A page keeps (and the status poll reads) every code that may still end in a payment."""
    from types import SimpleNamespace

    from webapp.codes.settlement import token_seconds

    assert token_seconds() == 300
    assert codes.codes_to_watch(SimpleNamespace(valid_seconds=90, refresh_seconds=60)) == 8
    assert codes.codes_to_watch(SimpleNamespace(valid_seconds=90, refresh_seconds=30)) == 14
