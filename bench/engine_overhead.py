"""How much does the metadata engine cost? Create supplier records through the generated API and
through a hand-written Flask endpoint doing the same insert (same auth, same row, same keys, same
audit entry), in the same run, and print both rates and their ratio (target: ≤ 1.3×).

    .venv/bin/python bench/engine_overhead.py [--n 500] [--database-url postgresql://...]

Without ``--database-url`` it uses a fresh SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import jsonify, request  # noqa: E402
from flask_login import current_user  # noqa: E402

from app import create_app  # noqa: E402
from app.db import utcnow  # noqa: E402
from app.kernel import audit  # noqa: E402
from app.kernel.users import User  # noqa: E402
from app.meta.models import Record, RecordKey  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.web.session import db_session  # noqa: E402


def hand_written(app):
    """The endpoint a developer would write by hand for the supplier form."""

    @app.post("/bench/suppliers")
    def hand_create():
        body = request.get_json()
        errors = {}
        for name in ("code", "name", "licence_number", "licence_expiry"):
            if not body.get(name):
                errors[name] = ["required"]
        if len(body.get("code", "")) > 32:
            errors["code"] = ["too long"]
        try:
            dt.date.fromisoformat(body.get("licence_expiry", ""))
        except ValueError:
            errors["licence_expiry"] = ["not a date"]
        if errors:
            return jsonify(errors=errors), 422
        session = db_session()
        taken = session.query(RecordKey.id).filter_by(
            form="supplier", field="code", value=body["code"]
        )
        if taken.first():
            return jsonify(errors={"code": ["taken"]}), 422
        now = utcnow()
        record = Record(form="supplier", state="draft", created_by=current_user.id,
                        updated_by=current_user.id, created_at=now, updated_at=now,
                        meta_version=1, data=body)  # fmt: skip
        session.add(record)
        session.flush()
        session.add(RecordKey(record_id=record.id, form="supplier", field="code",
                              value=body["code"], is_unique=True))  # fmt: skip
        session.add(RecordKey(record_id=record.id, form="supplier", field="name",
                              value=body["name"], is_unique=False))  # fmt: skip
        audit.record(session, "create", "record", record.id, changes={"supplier": body})
        session.commit()
        return jsonify(id=record.id, data=body), 201


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="lianku-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(folder), "SECRET_KEY": "bench",
                      "LOG_LEVEL": "WARNING"})  # fmt: skip
    app.config["WTF_CSRF_ENABLED"] = False  # same for both endpoints; not what is measured
    hand_written(app)
    database = app.extensions["lianku.db"]
    upgrade(database.engine)
    with database.transaction() as session:
        user = User(username="bench", full_name="Bench", locale="en")
        user.set_password("bench-pw")
        session.add(user)
    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": "bench-pw"})

    def run(path: str, prefix: str) -> float:
        start = time.perf_counter()
        for index in range(args.n):
            body = {"code": f"{prefix}{index}", "name": f"Supplier {index}",
                    "licence_number": "L-1", "licence_expiry": "2030-01-01"}  # fmt: skip
            response = client.post(path, json=body)
            assert response.status_code == 201, response.text
        return args.n / (time.perf_counter() - start)

    run("/bench/suppliers", "WARM-H")  # warm both paths up (imports, caches, pages)
    run("/api/v1/forms/supplier/records", "WARM-E")
    hands, engines = [], []
    for round_ in range(args.rounds):  # alternate, so drift in the machine hits both alike
        hands.append(run("/bench/suppliers", f"H{round_}-"))
        engines.append(run("/api/v1/forms/supplier/records", f"E{round_}-"))
    hand, engine = statistics.median(hands), statistics.median(engines)
    print(f"database: {database.dialect}, {args.n} creates x {args.rounds} rounds each (median)")
    print(f"hand-written endpoint : {hand:8.1f} records/s")
    print(f"generated engine API  : {engine:8.1f} records/s")
    print(f"engine overhead ratio : {hand / engine:8.2f}x (target <= 1.3x)")
    database.dispose()


if __name__ == "__main__":
    main()
