"""Benchmark: bulk-add synthetic registry people (`seed-demo --people N`'s code) on an empty
database and print the elapsed seconds. Run on demand, not in the test suite:

    .venv/bin/python bench/bulk_people.py                      # SQLite in a temporary file
    .venv/bin/python bench/bulk_people.py --url postgresql+psycopg://postgres@127.0.0.1/h4bench
    .venv/bin/python bench/bulk_people.py --people 200000

The database's tables are dropped and recreated first: never point it at a database you need.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from webapp import create_app
from webapp.extensions import db


def main() -> None:
    """Parse arguments, reset the schema, time the bulk insert, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="", help="database URL (default: temporary SQLite)")
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.url or f"sqlite:///{Path(tmp.name) / 'bulk.sqlite'}"
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        from webapp.demo import add_synthetic_people
        from webapp.models import InsuredPerson, LedgerEntry, PersonalAccount

        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        added = add_synthetic_people(args.people)
        elapsed = time.perf_counter() - started
        rows = [db.session.scalar(select(func.count()).select_from(m))
                for m in (InsuredPerson, PersonalAccount, LedgerEntry)]
        print(f"{db.engine.dialect.name}: {added} people in {elapsed:.2f} s "
              f"({added / elapsed:,.0f}/s); rows person/account/ledger = {rows}")
        started = time.perf_counter()
        again = add_synthetic_people(args.people // 10)
        print(f"{db.engine.dialect.name}: a further {again} on top in "
              f"{time.perf_counter() - started:.2f} s")
        db.session.remove()
        db.drop_all()
    tmp.cleanup()


if __name__ == "__main__":
    main()
