"""Who may show whose 医保码: the person themselves and holders of an 已绑定 binding.

A binding whose self-confirmation date passed counts as ended already, before the sweep
writes it (read-time condition, as on the family pages).
"""

from __future__ import annotations

from datetime import date
from functools import cache

from sqlalchemy import BindParameter, Date, Select, and_, bindparam, select
from sqlalchemy.orm import joinedload, selectinload

from webapp import clock
from webapp.extensions import db
from webapp.kinship.models import KinshipBinding
from webapp.kinship.queries import confirmation_lapsed
from webapp.kinship.states import BindingStatus
from webapp.models import InsuredPerson


def _usable(today: date | BindParameter[date] | None = None):
    """已绑定 and not lapsed (on ``today``, by default the China date now)."""
    return and_(KinshipBinding.status == BindingStatus.ACTIVE,
                ~confirmation_lapsed(clock.today() if today is None else today))


def active_binding(holder: InsuredPerson, member: InsuredPerson) -> KinshipBinding | None:
    """The 已绑定 binding by which ``holder`` may show ``member``'s code, if any."""
    return db.session.scalar(
        select(KinshipBinding).where(
            KinshipBinding.holder_person_id == holder.id,
            KinshipBinding.member_person_id == member.id,
            _usable(),
        )
    )


def showable_people(holder: InsuredPerson) -> list[tuple[InsuredPerson, KinshipBinding | None]]:
    """The holder themselves (binding None) followed by each 已绑定 relative, oldest first."""
    bindings = db.session.scalars(
        select(KinshipBinding)
        .options(selectinload(KinshipBinding.member))
        .where(KinshipBinding.holder_person_id == holder.id, _usable())
        .order_by(KinshipBinding.bound_at, KinshipBinding.id)
    ).all()
    return [(holder, None)] + [(b.member, b) for b in bindings]


def bindings_to(member: InsuredPerson) -> list[KinshipBinding]:
    """The 已绑定 bindings by which others may show the member's code, with their holders."""
    return list(db.session.scalars(_bindings_to(), {"member_id": member.id,
                                                    "today": clock.today()}))


@cache
def _bindings_to() -> Select:
    """bindings_to's statement, built once (every settlement and cancel asks it)."""
    return (
        select(KinshipBinding).options(joinedload(KinshipBinding.holder))
        .where(KinshipBinding.member_person_id == bindparam("member_id"),
               _usable(bindparam("today", type_=Date)))
        .order_by(KinshipBinding.id)
    )
