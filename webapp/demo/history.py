"""A few months of family life, played through the services on a frozen clock.

Every event goes through the same service a page or the POS API calls (face checks, the
binding wizard's ``complete_binding``, invitations, 家庭共济, 医保码 → verify → settle, review),
so states, ledger rows, audit rows and messages are what real use leaves. Each event runs
under ``clock.frozen_at`` at its moment: days before the seed, China time.

张家 (江西, no review): 张建国 bound his children 张小明 and 张小红 and his father 张德胜 (who
accepted), opened 家庭共济 for the three of them, and paid at 仁心大药房 for himself, on behalf
of his family and through 共济; an invitation to his son 张子豪 (16) still waits. 陈家 (江苏,
review): 陈志强's binding of 陈思远 was rejected (反光的户口本), 陈思涵's waits in the queue.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

from PIL import Image, ImageDraw
from sqlalchemy import select

from webapp import clock
from webapp.aid import services as aid
from webapp.aid.rules import CREATE_PURPOSE as AID_CREATE
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.codes import cancel
from webapp.codes import services as codes
from webapp.codes import settlement as pos
from webapp.extensions import db
from webapp.face import services as face
from webapp.face.models import FaceCheck
from webapp.face.verifier import Frame
from webapp.invitations import services as invitations
from webapp.kinship import lifecycle, materials
from webapp.kinship import services as kinship
from webapp.kinship.models import KinshipBinding
from webapp.messages import services as messages
from webapp.models import AuditLog, InsuredPerson, Pharmacy, Settlement, User
from webapp.policy import policy_for
from webapp.review import services as review

MARKER = "demo.history_seeded"
ME = "me"


# --- pictures the services need -------------------------------------------------------------

def _png(size: tuple[int, int], draw: Callable[[ImageDraw.ImageDraw], None],
         mode: str = "RGB", background: tuple = (246, 244, 236)) -> bytes:
    image = Image.new(mode, size, background)
    draw(ImageDraw.Draw(image))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@cache
def face_frame(shift: int) -> bytes:
    """A camera frame the simulated verifier accepts: a face-like drawing on a gradient,
    moved ``shift`` pixels (the head turning from frame to frame)."""
    def draw(d: ImageDraw.ImageDraw) -> None:
        for x in range(0, 260, 4):
            d.rectangle((x, 0, x + 3, 260), fill=(120 + x // 3, 170, 210))
        dx = shift
        d.ellipse((60 + dx, 40, 200 + dx, 210), fill=(236, 200, 170), outline=(90, 60, 40),
                  width=3)
        d.ellipse((95 + dx, 100, 115 + dx, 115), fill=(40, 30, 30))
        d.ellipse((145 + dx, 100, 165 + dx, 115), fill=(40, 30, 30))
        d.arc((100 + dx, 140, 160 + dx, 180), 20, 160, fill=(150, 40, 40), width=4)
    return _png((260, 260), draw)


def live_frames(check: FaceCheck, person: InsuredPerson) -> list[Frame]:
    """The frames the camera page would post: the policy's number per asked action, in
    order, spread over a few seconds."""
    rules = face.rules_for(person)
    asked = [a for a in face.actions_of(check) for _ in range(rules.frames_per_action)]
    gap = max(450, rules.min_span_ms // max(len(asked) - 1, 1) + 1)
    return [Frame(data=face_frame(14 * i), action=action, at_ms=600 + i * gap)
            for i, action in enumerate(asked)]


@cache
def document_scan() -> bytes:
    """A scanned certificate page: a framed sheet with printed lines and a red seal."""
    def draw(d: ImageDraw.ImageDraw) -> None:
        d.rectangle((16, 16, 464, 304), outline=(120, 40, 40), width=4)
        for y in range(70, 260, 28):
            d.line((48, y, 300, y), fill=(60, 60, 60), width=3)
        d.ellipse((330, 170, 430, 270), outline=(200, 30, 30), width=5)
        d.line((48, 40, 200, 40), fill=(20, 20, 20), width=6)
    return _png((480, 320), draw)


@cache
def signature() -> str:
    """A drawn signature as the signature pad posts it (a data URL)."""
    def draw(d: ImageDraw.ImageDraw) -> None:
        d.line([(40, 150), (110, 50), (170, 150), (240, 60), (330, 140), (520, 90)],
               fill=(17, 17, 17, 255), width=6)
    data = _png((600, 200), draw, mode="RGBA", background=(0, 0, 0, 0))
    return "data:image/png;base64," + base64.b64encode(data).decode()


# --- the cast ---------------------------------------------------------------------------------

@dataclass
class Cast:
    """The demo people and staff the history needs (looked up by their demo names/phones)."""

    people: dict[str, InsuredPerson]
    users: dict[str, User]  # by person name, or staff display name
    pharmacies: dict[str, Pharmacy]  # by code

    def actor(self, name: str) -> Actor:
        return Actor(user=self.users[name], label="demo")


def cast() -> Cast | None:
    """The seeded people and logins, or None when the demo registry is not complete."""
    from webapp.demo.people import FAMILIES, STAFF

    names = [p.name for _, members in FAMILIES for p in members]
    people = {p.name: p for p in db.session.scalars(
        select(InsuredPerson).where(InsuredPerson.name.in_(names)))}
    users = {u.person.name: u for u in db.session.scalars(
        select(User).where(User.person_id.in_([p.id for p in people.values()])))}
    staff = {u.display_name: u for u in db.session.scalars(
        select(User).where(User.phone.in_([s.phone for s in STAFF])))}
    shops = {s.pharmacy[1]: None for s in STAFF if s.pharmacy}
    pharmacies = {p.code: p for p in db.session.scalars(
        select(Pharmacy).where(Pharmacy.code.in_(list(shops))))}
    if len(people) < len(names) or len(pharmacies) < len(shops):
        return None
    return Cast(people, {**users, **staff}, pharmacies)


# --- the service calls one event is made of ---------------------------------------------------

def face_pass(c: Cast, name: str, purpose: str) -> None:
    """The person passes the live face check for the purpose (the simulated verifier)."""
    person = c.people[name]
    check = face.begin(person, purpose, "/")
    face.submit_live(check, check.nonce, live_frames(check, person), c.actor(name))


def add_relative(c: Cast, holder: str, member: str, relation: str,
                 material_type: str) -> kinship.Completed:
    """The 添加家庭成员 wizard: face check, one material, the signed letter, complete."""
    person = c.people[holder]
    rules = policy_for(person.region_code).kinship
    kinship.agree_notice(person, rules.notice_version, c.actor(holder))
    face_pass(c, holder, "kinship_add")
    material = materials.store(person, material_type, io.BytesIO(document_scan()),
                               [material_type], rules.material_formats,
                               rules.material_max_bytes, c.actor(holder))
    relative = c.people[member]
    return kinship.complete_binding(person, relative.name, relative.id_number, relation,
                                    material, person.name, signature(), c.actor(holder),
                                    phone=relative.phone or "")


def binding_of(c: Cast, holder: str, member: str) -> KinshipBinding:
    found = db.session.scalar(select(KinshipBinding).where(
        KinshipBinding.holder_person_id == c.people[holder].id,
        KinshipBinding.member_person_id == c.people[member].id,
    ).order_by(KinshipBinding.id.desc()))
    assert found is not None
    return found


def buy(c: Cast, shown_by: str, patient: str, shop: str, clerk: str, amount_fen: int,
        items: str) -> Settlement:
    """Show a 医保码 (one's own or a bound relative's), the pharmacy scans it and settles."""
    user = c.users[shown_by]
    key = ME if shown_by == patient else binding_of(c, shown_by, patient).public_id
    issued = codes.issue_code(user, key, c.actor(shown_by))
    pharmacy = c.pharmacies[shop]
    verified = pos.verify(issued.code, pharmacy, c.actor(clerk))
    return pos.settle(verified.token, pharmacy, c.actor(clerk), amount_fen, items)


# --- the story ---------------------------------------------------------------------------------

RENXIN, BAIXIN = "P36010200001", "P32010200001"
CLERK_JX, CLERK_JS, REVIEWER = "王敏", "赵磊", "周婷"
tokens: dict[str, str] = {}


def zhang_children(c: Cast) -> None:
    add_relative(c, "张建国", "张小明", "child", "birth_cert")
    add_relative(c, "张建国", "张小红", "child", "hukou")


def zhang_father_invited(c: Cast) -> None:
    done = add_relative(c, "张建国", "张德胜", "parent", "hukou")
    assert done.token
    tokens["father"] = done.token


def zhang_father_accepts(c: Cast) -> None:
    face_pass(c, "张德胜", "kinship_accept")
    lifecycle.accept(tokens.pop("father"), c.users["张德胜"], c.actor("张德胜"))


def zhang_aid_group(c: Cast) -> None:
    owner = c.people["张建国"]
    face_pass(c, "张建国", AID_CREATE)
    aid.create_group(owner, True, c.actor("张建国"))
    for child in ("张小明", "张小红"):
        aid.add_member(owner, "child", c.actor("张建国"),
                       pick=binding_of(c, "张建国", child).public_id)
    added = aid.add_member(owner, "parent", c.actor("张建国"),
                           pick=binding_of(c, "张建国", "张德胜").public_id)
    assert added.token
    tokens["aid_father"] = added.token


def zhang_father_joins_aid(c: Cast) -> None:
    from webapp.aid.invitation import HANDLER

    face_pass(c, "张德胜", HANDLER.face_purpose)
    invitations.accept(tokens.pop("aid_father"), c.users["张德胜"], c.actor("张德胜"))


def read_all(name: str) -> Callable[[Cast], None]:
    def step(c: Cast) -> None:
        messages.mark_all_read(c.people[name].id)
    return step


def purchase(shown_by: str, patient: str, amount_fen: int, items: str,
             shop: str = RENXIN, clerk: str = CLERK_JX) -> Callable[[Cast], None]:
    def step(c: Cast) -> None:
        buy(c, shown_by, patient, shop, clerk, amount_fen, items)
    return step


def bought_and_cancelled(c: Cast) -> None:
    """A purchase the pharmacy cancels minutes later (the money goes back, both rows kept)."""
    paid = buy(c, "张建国", "张建国", RENXIN, CLERK_JX, 88_00, "血糖试纸 1盒")
    with clock.frozen_at(clock.now() + timedelta(minutes=12)):
        cancel.cancel(paid, c.pharmacies[RENXIN], c.actor(CLERK_JX), "型号拿错，顾客退货")


def zhang_invites_son(c: Cast) -> None:
    add_relative(c, "张建国", "张子豪", "child", "hukou")  # 16: he confirms himself


def chen_rejected(c: Cast) -> None:
    add_relative(c, "陈志强", "陈思远", "child", "hukou")


def chen_review_rejects(c: Cast) -> None:
    binding = binding_of(c, "陈志强", "陈思远")
    review.reject(binding.public_id, c.users[REVIEWER], "unclear",
                  "户口本照片反光，看不清孩子的出生日期，请重新拍摄后提交", c.actor(REVIEWER))


def chen_waits_for_review(c: Cast) -> None:
    add_relative(c, "陈志强", "陈思涵", "child", "birth_cert")


# (days before the seed, China hh:mm, event); hours=None: that many hours before the seed.
STORY: tuple[tuple[int, str, Callable[[Cast], None]], ...] = (
    (88, "20:10", zhang_children),
    (86, "19:40", zhang_father_invited),
    (85, "09:15", zhang_father_accepts),
    (80, "10:30", purchase("张建国", "张小红", 26_50, "小儿氨酚黄那敏颗粒 1盒")),  # cash: no 共济 yet
    (75, "21:00", zhang_aid_group),
    (74, "08:30", zhang_father_joins_aid),
    (68, "18:20", purchase("张建国", "张建国", 32_80, "布洛芬缓释胶囊 1盒")),
    (54, "11:05", purchase("张建国", "张小明", 45_60, "阿莫西林颗粒 2盒")),  # 代出示, 共济 pays
    (47, "15:30", bought_and_cancelled),
    (40, "09:40", purchase("张德胜", "张德胜", 128_00, "硝苯地平控释片 3盒")),  # own code, 共济
    (30, "21:30", read_all("张建国")),
    (30, "21:35", read_all("张德胜")),
    (26, "19:15", purchase("张建国", "张建国", 58_00, "医用外科口罩 2包；维生素C片 1瓶")),
    (24, "14:00", chen_rejected),
    (22, "10:00", chen_review_rejects),
    (17, "10:20", purchase("张建国", "张德胜", 96_40, "阿托伐他汀钙片 2盒")),
    (12, "17:50", purchase("陈志强", "陈志强", 42_00, "复方感冒灵颗粒 2盒", BAIXIN, CLERK_JS)),
    (9, "16:45", purchase("张建国", "张小红", 67_30, "布地奈德混悬液 1盒")),
    (3, "20:05", purchase("张建国", "张建国", 18_90, "板蓝根颗粒 1袋")),
    (1, "19:30", chen_waits_for_review),
)
HOURS_BEFORE_SEED: tuple[tuple[int, Callable[[Cast], None]], ...] = (
    (6, zhang_invites_son),  # still open when the demo starts (invitations last 72 h)
)
HISTORY_DAYS = max(days for days, _, _ in STORY) + 7  # the registry exists a week before


def moment(seed_at: datetime, days: int, hhmm: str) -> datetime:
    """Naive UTC of China hh:mm on the day ``days`` before the seed (never after it)."""
    day: date = clock.to_china(seed_at).date() - timedelta(days=days)
    hours, minutes = (int(x) for x in hhmm.split(":"))
    at = clock.china_midnight_utc(day) + timedelta(hours=hours, minutes=minutes)
    return min(at, seed_at - timedelta(hours=1))


def already_played() -> bool:
    """Whether the history was seeded before (its marker row exists)."""
    return db.session.scalar(select(AuditLog.id).filter_by(action=MARKER).limit(1)) is not None


def play(seed_at: datetime) -> bool:
    """Play the story up to ``seed_at`` (naive UTC); False when it was played before or the
    demo registry is incomplete."""
    if already_played():
        return False
    c = cast()
    if c is None:
        return False
    tokens.clear()
    timeline = [(moment(seed_at, days, hhmm), event) for days, hhmm, event in STORY]
    timeline += [(seed_at - timedelta(hours=h), event) for h, event in HOURS_BEFORE_SEED]
    for at, event in sorted(timeline, key=lambda pair: pair[0]):
        with clock.frozen_at(at):
            event(c)
    with clock.frozen_at(seed_at):
        audit.record(MARKER, Actor(label="demo"), detail={"events": len(timeline)})
        db.session.commit()
    return True
