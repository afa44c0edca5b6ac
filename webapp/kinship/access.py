"""Who may show whose 医保码: the person themselves and holders of an 已绑定 binding.

A binding whose self-confirmation date passed counts as ended already, before the sweep
writes it (read-time condition, as on the family pages).
"""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.orm import joinedload, selectinload

from webapp import clock
from webapp.extensions import db
from webapp.kinship.models import KinshipBinding
from webapp.kinship.queries import confirmation_lapsed
from webapp.kinship.states import BindingStatus
from webapp.models import InsuredPerson


def _usable():
    """已绑定 and not lapsed."""
    return and_(KinshipBinding.status == BindingStatus.ACTIVE,
                ~confirmation_lapsed(clock.today()))


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
    return list(db.session.scalars(
        select(KinshipBinding).options(joinedload(KinshipBinding.holder))
        .where(KinshipBinding.member_person_id == member.id, _usable())
        .order_by(KinshipBinding.id)
    ))
