"""消费明细 → 结算详情: every row of the 共济 owner's 消费明细 opens the settlement it paid, in the
payer's view (their share, no 出示人, no 结算单号); a settlement of a member that the owner's
account did not pay stays 404 for the owner."""

from __future__ import annotations

import re

from tests.test_aid_payments import spending_family
from tests.test_codes import login
from tests.test_records import add_settlement
from webapp import clock
from webapp.extensions import db
from webapp.models import Settlement


def html(response) -> str:
    return response.get_data(as_text=True)


def links(page: str) -> list[str]:
    """The 结算详情 links of the 消费明细 rows, in page order."""
    return re.findall(r'<a class="[^"]*aid-row[^"]*" href="(/records/[\w-]+)"', page)


def test_every_spending_row_opens_its_settlement_in_the_payers_view(app, client, factory):
    owner, son, wife, _, _ = spending_family(factory)
    login(client, owner)
    page = html(client.get("/aid/spending"))
    paid = {s.public_id for s in db.session.scalars(
        db.select(Settlement).where(Settlement.aid_owner_person_id == owner.person.id))}
    found = links(page)
    assert len(found) == page.count("data-spending") == 3
    assert {link.rsplit("/", 1)[1] for link in found} == paid
    detail = client.get(found[0])
    assert detail.status_code == 200
    body = html(detail)
    assert "共济支付（您的账户）" in body and "您是该笔费用的共济支付人" in body
    assert "出示医保码" not in body and "结算单号" not in body
    assert 'href="/aid/spending"' in body  # ‹ goes back to 消费明细


def test_owner_cannot_open_a_members_settlement_not_paid_from_their_account(app, client, factory):
    owner, son, wife, _, _ = spending_family(factory)
    own = add_settlement(son.person, factory.pharmacy(name="第二药房"), 500, clock.now(),
                         "维生素C", account_fen=500)
    login(client, owner)
    assert f"/records/{own.public_id}" not in html(client.get("/aid/spending"))
    assert client.get(f"/records/{own.public_id}").status_code == 404
    # the member still opens it
    login(client, son)
    assert client.get(f"/records/{own.public_id}").status_code == 200
