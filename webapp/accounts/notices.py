"""Messages the accounts aggregate sends (注销账户), in one table."""

from __future__ import annotations

from webapp.masking import mask_name
from webapp.messages import services as messages
from webapp.models import InsuredPerson

# event → (title, body); words: {who} the masked name of the person whose account closed.
NOTICES: dict[str, tuple[str, str]] = {
    "closed": (
        "{who}已注销亲情医保账户",
        "{who}已注销亲情医保账户，您与对方之间的亲情账户绑定和家庭共济关系已随之结束。"
        "此前的医保码出示、结算和消费记录仍可在本应用中查看。",
    ),
}


def tell(event: str, closed: InsuredPerson, recipient: InsuredPerson) -> None:
    """Queue the event's message to one person on the other side (the caller commits)."""
    title, body = NOTICES[event]
    words = {"who": mask_name(closed.name)}
    messages.send(recipient, title.format(**words), body.format(**words), category="system",
                  link=messages.page("family.index"))
