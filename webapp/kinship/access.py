"""Who may show whose 医保码: the person themselves and holders of an 已绑定 binding."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import InsuredPerson, KinshipBinding


def active_binding(holder: InsuredPerson, member: InsuredPerson) -> KinshipBinding | None:
    """The 已绑定 binding by which ``holder`` may show ``member``'s code, if any."""
    return db.session.scalar(
        select(KinshipBinding).where(
            KinshipBinding.holder_person_id == holder.id,
            KinshipBinding.member_person_id == member.id,
            KinshipBinding.status == "active",
        )
    )


def showable_people(holder: InsuredPerson) -> list[tuple[InsuredPerson, KinshipBinding | None]]:
    """The holder themselves (binding None) followed by each 已绑定 relative, oldest first."""
    bindings = db.session.scalars(
        select(KinshipBinding)
        .options(selectinload(KinshipBinding.member))
        .where(KinshipBinding.holder_person_id == holder.id, KinshipBinding.status == "active")
        .order_by(KinshipBinding.bound_at, KinshipBinding.id)
    ).all()
    return [(holder, None)] + [(b.member, b) for b in bindings]


def bindings_to(member: InsuredPerson) -> list[KinshipBinding]:
    """The 已绑定 bindings by which others may show the member's code, with their holders."""
    return list(db.session.scalars(
        select(KinshipBinding).options(selectinload(KinshipBinding.holder))
        .where(KinshipBinding.member_person_id == member.id, KinshipBinding.status == "active")
        .order_by(KinshipBinding.id)
    ))
