"""bench/floor.py, the stack's floor beside each hot path: it must make exactly the round trips
bench/run.py says it makes, or its figure means nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from tests.conftest import BACKENDS, PG_URL
from tests.test_statement_budgets import BUDGETS

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import floor  # noqa: E402
import run  # noqa: E402


@pytest.fixture(params=BACKENDS)
def floor_app(request, tmp_path):
    url = PG_URL if request.param == "postgresql" else f"sqlite:///{tmp_path / 'floor.sqlite'}"
    floor.prepare(url)
    application = floor.create_app(url, None)
    yield application
    with application.app_context():
        application.extensions["sqlalchemy"].session.remove()
        application.extensions["sqlalchemy"].engine.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_floor"))
    engine.dispose()


def counted(application, path: str) -> tuple[str, list[str]]:
    """The answer of ``path`` and the statements the floor's engine ran for it."""
    sent: list[str] = []
    with application.app_context():
        engine = application.extensions["sqlalchemy"].engine

    def count(_conn, _cursor, statement, *_args):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = application.test_client().get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.get_data(True)
    return response.get_data(True), sent


@pytest.mark.parametrize("statements, tx", [(2, 0), (6, 1), (14, 1)])
def test_the_floor_sends_its_statements_and_reads_a_row_each(floor_app, statements, tx):
    answer, sent = counted(floor_app, f"/floor/{statements}?tx={tx}")
    assert answer == str(statements)  # one row read back by every statement
    assert len(sent) == statements and all(s.lstrip().upper().startswith("SELECT") for s in sent)


def test_the_driver_floor_reads_the_same_rows_outside_sqlalchemy(floor_app):
    for tx in (0, 1):
        answer, sent = counted(floor_app, f"/floor/6?tx={tx}&driver=1")
        assert answer == "6" and sent == []  # its own DBAPI connection, not the engine's


def test_the_bench_asks_each_row_for_its_budgeted_statements():
    """The floor of every row is asked for the statements its budget test counts."""
    paths = {row: (count, trips, path)
             for row, count, trips, path in run.floor_paths(no_redis=False)}
    assert set(paths) == {row for row, *_ in run.FLOORS}
    for row, budget, tx, redis_trips in run.FLOORS:
        count, trips, path = paths[row]
        assert count == BUDGETS[budget] and trips == redis_trips
        assert path == f"/floor/{BUDGETS[budget]}?tx={int(tx)}&redis={redis_trips}"
    assert all(trips == 0 and path.endswith("redis=0")
               for _, _, trips, path in run.floor_paths(no_redis=True))
