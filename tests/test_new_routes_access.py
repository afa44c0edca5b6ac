"""Other families' URLs on the routes of issue 11 (person page, 结算详情, 编辑, 共济授权记录,
material pages, face attempts): a user of another family gets 404 (the codebase's convention:
never a 403 that confirms the row exists), a pharmacy clerk gets 403 (role) or 404, and an
ended or pending binding opens nothing of the relative. Consent documents carry no per-user
id (the same public text for everyone), so they are not among them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import kinship_factories as kf
from tests.helpers import login
from tests.test_aid_rules import add, open_group
from tests.test_codes import bind, end
from tests.test_records import add_settlement
from webapp import clock
from webapp.extensions import db
from webapp.kinship import edit
from webapp.models import KinshipMaterial


class Family:
    """Holder 李红 with her bound son (a settlement, a 共济 membership, a material on file,
    a face attempt her browser began) and the ids of each."""

    def __init__(self, app, factory):
        self.holder = factory.user(name="李红", age=38, male=False, region="360102")
        self.child = factory.person(name="张小明", age=8)
        self.binding = bind(self.holder.person, self.child, "child")
        self.binding.material_id = kf.material(self.holder.person, "birth_cert").id
        db.session.commit()
        open_group(self.holder)
        self.member = add(self.holder.person, self.child, "child").member
        self.record = add_settlement(self.child, factory.pharmacy(), 2350, clock.now(), "秘密药",
                                     holder=self.holder.person, binding=self.binding)
        kf.face_pass(self.holder.person, edit.PURPOSE)
        own = app.test_client()
        login(own, self.holder)
        started = own.post(f"/family/members/{self.binding.public_id}/edit/face")
        self.face = started.headers["Location"].rsplit("/", 1)[-1]
        self.own = own


ROUTES = {
    "person page": ("GET", lambda f: f"/family/people/{f.child.public_id}"),
    "结算详情": ("GET", lambda f: f"/records/{f.record.public_id}"),
    "edit": ("GET", lambda f: f"/family/members/{f.binding.public_id}/edit"),
    "edit save": ("POST", lambda f: f"/family/members/{f.binding.public_id}/edit"),
    "edit face": ("POST", lambda f: f"/family/members/{f.binding.public_id}/edit/face"),
    "edit confirm": ("GET", lambda f: f"/family/members/{f.binding.public_id}/edit/confirm"),
    "edit confirm save": ("POST",
                          lambda f: f"/family/members/{f.binding.public_id}/edit/confirm"),
    "aid history (owner)": ("GET", lambda f: f"/aid/members/{f.member.public_id}/history"),
    "aid history (member)": ("GET", lambda f: f"/aid/joined/{f.member.public_id}/history"),
    "material page": ("GET", lambda f: f"/family/materials/{f.binding.material.public_id}"),
    "face attempt": ("GET", lambda f: f"/face/{f.face}"),
    "face submit": ("POST", lambda f: f"/face/{f.face}"),
}
# Data of the family a foreign answer must not show.
SECRETS = ("张小明", "秘密药", "张*明")


@pytest.fixture
def fam(app, factory):
    return Family(app, factory)


def answer(client, method: str, path: str):
    data = {"relation": "child", "phone": "13812345678", "version": "1", "nonce": "x"}
    return client.open(path, method=method, data=data if method == "POST" else None)


def test_the_family_itself_reaches_its_pages(fam):
    """The baseline: the holder's own browser opens them (so the 404s below mean something)."""
    for name in ("person page", "结算详情", "edit", "aid history (owner)", "material page",
                 "face attempt"):
        method, path = ROUTES[name]
        assert answer(fam.own, method, path(fam)).status_code == 200, name


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_another_family_gets_404(app, factory, fam, name):
    stranger = factory.user(name="陈某", age=40)
    stranger_child = factory.person(name="陈小", age=9)
    bind(stranger.person, stranger_child, "child")
    client = app.test_client()
    login(client, stranger)
    method, path = ROUTES[name]
    response = answer(client, method, path(fam))
    assert response.status_code == 404, (name, response.status_code, response.location)
    text = response.get_data(as_text=True)
    assert not any(s in text for s in SECRETS)


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_a_pharmacy_clerk_gets_403_or_404(app, factory, fam, name):
    client = app.test_client()
    login(client, factory.staff())
    method, path = ROUTES[name]
    response = answer(client, method, path(fam))
    assert response.status_code in (403, 404), (name, response.status_code)
    assert not any(s in response.get_data(as_text=True) for s in SECRETS)


@pytest.mark.parametrize("name", ["person page", "edit", "edit save", "edit face",
                                  "edit confirm", "edit confirm save"])
@pytest.mark.parametrize("state", ["ended", "pending_review"])
def test_an_ended_or_pending_binding_opens_nothing(fam, name, state):
    """The holder's own browser: an ended or pending binding gives neither the relative's page
    nor an edit (404, or back to the member page with nothing saved)."""
    if state == "ended":
        end(fam.binding)
    else:
        fam.binding.status, fam.binding.bound_at = state, None
        db.session.commit()
    before = (fam.binding.phone, fam.binding.relation, fam.binding.version)
    method, path = ROUTES[name]
    response = answer(fam.own, method, path(fam))
    assert response.status_code in (302, 303, 404), (name, response.status_code)
    for _hop in range(3):  # wherever it sends the holder: no form, no face attempt
        if response.status_code not in (302, 303):
            break
        assert "/face/" not in response.location
        response = fam.own.get(response.location)
    assert 'name="phone"' not in response.get_data(as_text=True)
    db.session.expire_all()
    assert (fam.binding.phone, fam.binding.relation, fam.binding.version) == before


def test_another_users_material_page_is_not_removed(app, factory, fam):
    """The wizard's 删除 of a page with another family's page id leaves it in place."""
    stranger = factory.user(name="陈某", age=40)
    client = app.test_client()
    login(client, stranger)
    kf.face_pass(stranger.person)
    client.post("/family/add/notice", data={"agree": "y"})
    kid = factory.person(name="陈小", age=9)
    client.post("/family/add/info", data={"name": kid.name, "id_number": kid.id_number,
                                          "relation": "child"})
    page_id = fam.binding.material.public_id
    response = client.post("/family/add/material", data={"material_type": "birth_cert",
                                                         "remove": page_id},
                           content_type="multipart/form-data")
    assert response.status_code in (302, 303)
    assert db.session.scalar(select(KinshipMaterial).where(
        KinshipMaterial.public_id == page_id)) is not None
