"""A page per family member (家人主页) and the home page's own card: page models, no writes.

Who may open a person's page: the person themselves, and a holder of an 已绑定 (not lapsed)
binding to them — exactly who may show their 医保码. Anyone else gets 404, whether or not the
id exists. The personal-account balance is shown to the person themselves only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.charts import Bar
from webapp.codes import records
from webapp.codes.services import ME, member_kin_word
from webapp.domain import NotFound
from webapp.extensions import db
from webapp.kinship.access import active_binding
from webapp.kinship.models import KinshipBinding
from webapp.models import InsuredPerson, Settlement
from webapp.regions import province_name

RECENT = 5
MSG_NOT_FOUND = "未找到该家庭成员"


def avatar_word(binding: KinshipBinding | None) -> str:
    """What a family avatar shows: 我, or what the member is to the holder (儿子, 母亲 …).

    Not a name character: names are masked for everyone but the person ('李红' → '李*'), and a
    family often shares one surname (李 李 李 told nobody apart).
    """
    if binding is None:
        return "我"
    word = member_kin_word(binding)
    if "/" in word:  # 祖父/外祖父, 孙女/外孙女 …
        return "祖辈" if word.startswith("祖") else "孙辈"
    return word if len(word) <= 2 else "家人"


@dataclass(frozen=True)
class PersonPage:
    """家人主页: code entry, 本年医疗费用 by month, recent 消费记录, insurance (and own balance)."""

    person: InsuredPerson
    binding: KinshipBinding | None  # None: the viewer's own page
    kin: str  # 儿子, 母亲 … ('' for oneself)
    year: int
    year_total_fen: int
    bars: list[Bar]
    recent: list[Settlement]
    more: bool  # more records than the recent ones shown

    @property
    def is_self(self) -> bool:
        """Whether this is the viewer's own page."""
        return self.binding is None

    @property
    def key(self) -> str:
        """The subject key of the code and records pages ('me' or the binding's public id)."""
        return ME if self.binding is None else self.binding.public_id

    @property
    def region(self) -> str:
        """参保地 as a province name."""
        return province_name(self.person.region_code)

    @property
    def has_account(self) -> bool:
        """Whether the person has a personal account (职工医保)."""
        return self.person.account is not None

    @property
    def chart_title(self) -> str:
        """The chart's accessible title."""
        return f"{self.year}年每月医疗费用"


def viewable_person(viewer: InsuredPerson, public_id: str) -> tuple[InsuredPerson,
                                                                     KinshipBinding | None]:
    """The person behind ``public_id`` if the viewer is them or may act for them (404 else)."""
    if public_id == viewer.public_id:
        return viewer, None
    person = db.session.scalar(select(InsuredPerson).where(InsuredPerson.public_id == public_id))
    binding = active_binding(viewer, person) if person is not None else None
    if person is None or binding is None:
        raise NotFound(MSG_NOT_FOUND, code="unknown_subject")
    return person, binding


def with_account(person: InsuredPerson) -> InsuredPerson:
    """The person with their personal account loaded (one statement; templates never
    lazy-load the balance)."""
    return db.session.scalars(select(InsuredPerson).options(
        selectinload(InsuredPerson.account)).where(InsuredPerson.id == person.id)).one()


def person_page(viewer: InsuredPerson, public_id: str) -> PersonPage:
    """What family.person shows (a fixed number of statements, whatever the records)."""
    person, binding = viewable_person(viewer, public_id)
    if binding is None:
        person = with_account(person)
    today = clock.today()
    per_month = records.year_spending([person.id], today)[person.id]
    found = list(db.session.scalars(records.person_query(person).limit(RECENT + 1)))
    kin = member_kin_word(binding) if binding is not None else ""
    return PersonPage(person, binding, kin, today.year, sum(per_month.values()),
                      records.bars_of(per_month, today), found[:RECENT], len(found) > RECENT)


@dataclass(frozen=True)
class HomeCard:
    """首页's own card: the 医保码 entry and the personal-account balance."""

    person: InsuredPerson
    has_account: bool
    balance_fen: int


def home_card(person: InsuredPerson | None) -> HomeCard | None:
    """The logged-in insured person's card (None for staff and visitors)."""
    if person is None:
        return None
    loaded = with_account(person)
    return HomeCard(loaded, loaded.account is not None, loaded.balance_fen)
