"""psycopg 3 against Borealis: what an application does, with the driver's defaults.

Usage: python3 psycopg_driver.py URL. Prints OK and exits 0 on success.
"""

import datetime
import sys

import psycopg
from psycopg import errors


def main(url):
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT version()")
            assert cur.fetchone()[0].startswith("PostgreSQL 15"), "version()"
            assert conn.info.server_version >= 150000, conn.info.server_version
            cur.execute("DROP TABLE IF EXISTS p3_items")
            cur.execute(
                "CREATE TABLE p3_items (id int PRIMARY KEY, big bigint, score float8,"
                " name text, active bool, at timestamp)"
            )
        conn.commit()

        at = datetime.datetime(2024, 5, 1, 12, 34, 56, 123456)
        rows = [
            (1, 2**40, 1.5, "ann", True, at),
            (2, -(2**40), -0.25, "bob's", False, at + datetime.timedelta(days=1)),
            (3, None, None, None, None, None),
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO p3_items (id, big, score, name, active, at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )
            conn.commit()
            cur.execute("SELECT id, big, score, name, active, at FROM p3_items ORDER BY id")
            got = cur.fetchall()
            assert got == rows, got
            cur.execute("SELECT name FROM p3_items WHERE id = %s AND active = %s", (1, True))
            assert cur.fetchone() == ("ann",)

            # Binary results and parameters, as psycopg offers them.
            cur.execute(
                "SELECT id, big, score, name, active, at FROM p3_items WHERE id = %b",
                (2,),
                binary=True,
            )
            assert cur.fetchone() == rows[1]

            cur.execute("UPDATE p3_items SET score = %s, name = %s WHERE id = %s", (9.75, "cy", 3))
            assert cur.rowcount == 1, cur.rowcount
            conn.commit()
            cur.execute("SELECT score, name FROM p3_items WHERE id = %s", (3,))
            assert cur.fetchone() == (9.75, "cy")

        # Rollback discards; the transaction context manager commits.
        with conn.cursor() as cur:
            cur.execute("DELETE FROM p3_items WHERE id = %s", (1,))
            conn.rollback()
            cur.execute("SELECT count(*) FROM p3_items")
            assert cur.fetchone()[0] == 3
            with conn.transaction():
                cur.execute("DELETE FROM p3_items WHERE id = %s", (1,))
            conn.commit()
            cur.execute("SELECT count(*) FROM p3_items")
            assert cur.fetchone()[0] == 2

        # A unique violation arrives as the driver's exception with its SQLSTATE.
        with conn.cursor() as cur:
            try:
                cur.execute("INSERT INTO p3_items (id) VALUES (%s)", (2,))
            except errors.UniqueViolation as e:
                assert e.sqlstate == "23505", e.sqlstate
            else:
                raise AssertionError("duplicate key accepted")
            conn.rollback()
            cur.execute("SELECT count(*) FROM p3_items")
            assert cur.fetchone()[0] == 2

    # Autocommit, and a server-side prepared statement (psycopg prepares after 5 executions).
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(10, 20):
            conn.execute("INSERT INTO p3_items (id, big) VALUES (%s, %s)", (i, i * 10))
        total = conn.execute("SELECT sum(big) FROM p3_items WHERE id >= %s", (10,)).fetchone()[0]
        assert total == sum(i * 10 for i in range(10, 20)), total
        conn.execute("DROP TABLE p3_items")

    # A named time zone with daylight saving time, and timetz in text and binary, as
    # parameters and results.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'America/New_York'")
        utc = datetime.timezone.utc
        summer, winter = conn.execute(
            "SELECT '2024-07-01 12:00'::timestamptz, '2024-01-01 12:00'::timestamptz"
        ).fetchone()
        assert summer == datetime.datetime(2024, 7, 1, 16, 0, tzinfo=utc), summer
        assert winter == datetime.datetime(2024, 1, 1, 17, 0, tzinfo=utc), winter
        ist = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
        want = datetime.time(12, 34, 56, 500000, tzinfo=ist)
        for binary in (False, True):
            cur = conn.cursor(binary=binary)
            got = cur.execute("SELECT '12:34:56.5+05:30'::timetz").fetchone()[0]
            assert got == want and got.utcoffset() == want.utcoffset(), (binary, got)
        conn.execute("DROP TABLE IF EXISTS p3_times")
        conn.execute("CREATE TABLE p3_times (id int PRIMARY KEY, t timetz)")
        west = datetime.timezone(datetime.timedelta(hours=-3))
        for i, t in enumerate([want, datetime.time(9, 0, tzinfo=west)]):
            conn.execute("INSERT INTO p3_times VALUES (%s, %s)", (i, t))
            conn.execute("INSERT INTO p3_times VALUES (%b, %b)", (i + 10, t))
        got = conn.execute("SELECT t::text AS shown FROM p3_times ORDER BY t, id").fetchall()
        assert got == [
            ("12:34:56.5+05:30",),
            ("12:34:56.5+05:30",),
            ("09:00:00-03",),
            ("09:00:00-03",),
        ], got
        conn.execute("DROP TABLE p3_times")

    # Arrays: Python lists in and out, as parameters (text and binary) and results, and
    # `= ANY(%s)` with a list, the ORM's IN.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS p3_arrays")
        conn.execute("CREATE TABLE p3_arrays (id int PRIMARY KEY, tags text[], nums bigint[])")
        rows = [
            (1, ["a", "b c", 'q"uote', "back\\slash", None, "NULL", ""], [1, None, 2**40]),
            (2, [], []),
            (3, None, None),
        ]
        for i, tags, nums in rows:
            conn.execute("INSERT INTO p3_arrays VALUES (%s, %s, %s)", (i, tags, nums))
        for binary in (False, True):
            cur = conn.cursor(binary=binary)
            got = cur.execute("SELECT id, tags, nums FROM p3_arrays ORDER BY id").fetchall()
            assert got == rows, (binary, got)
            got = cur.execute(
                "SELECT id FROM p3_arrays WHERE id = ANY(%s) ORDER BY id", ([1, 3, 7],)
            ).fetchall()
            assert got == [(1,), (3,)], (binary, got)
        conn.execute("INSERT INTO p3_arrays VALUES (%b, %b, %b)", (4, ["x", None], [5]))
        got = conn.execute("SELECT tags, nums FROM p3_arrays WHERE id = 4").fetchone()
        assert got == (["x", None], [5]), got
        got = conn.execute("SELECT array_agg(id ORDER BY id) FROM p3_arrays").fetchone()[0]
        assert got == [1, 2, 3, 4], got
        conn.execute("DROP TABLE p3_arrays")

    # Server-side (named) cursors: DECLARE with a parameter, Describe of the cursor as a
    # portal, FETCH FORWARD n, MOVE, CLOSE underneath.
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS p3_cursor")
        conn.execute("CREATE TABLE p3_cursor (id int PRIMARY KEY, name text)")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO p3_cursor VALUES (%s, %s)", [(i, f"n{i}") for i in range(1, 1001)]
            )
        conn.commit()
        with conn.cursor("big_one") as cur:
            cur.itersize = 97
            cur.execute("SELECT id, name FROM p3_cursor WHERE id > %s ORDER BY id", (10,))
            assert [d.name for d in cur.description] == ["id", "name"], cur.description
            got = list(cur)
            assert got == [(i, f"n{i}") for i in range(11, 1001)], len(got)
        with conn.cursor("scrolling", scrollable=True) as cur:
            cur.execute("SELECT id FROM p3_cursor ORDER BY id")
            assert cur.fetchmany(3) == [(1,), (2,), (3,)]
            cur.scroll(-2)
            assert cur.fetchone() == (2,)
            cur.scroll(10, mode="absolute")
            assert cur.fetchone() == (11,)
        with conn.cursor("binary_one", binary=True) as cur:
            cur.execute("SELECT id, name FROM p3_cursor WHERE id <= %s ORDER BY id", (3,))
            assert cur.fetchall() == [(1, "n1"), (2, "n2"), (3, "n3")]
        # WITH HOLD: still readable after the commit.
        with conn.cursor("held", withhold=True) as cur:
            cur.execute("SELECT id FROM p3_cursor WHERE id <= 5 ORDER BY id")
            conn.commit()
            assert cur.fetchall() == [(i,) for i in range(1, 6)]
        conn.commit()
        got = conn.execute("SELECT count(*) FROM pg_cursors").fetchone()[0]
        assert got == 0, got
        conn.execute("DROP TABLE p3_cursor")
        conn.commit()

    # Schema introspection as ORMs and schema tools do it: a table's foreign keys through
    # information_schema's constraint views, the table name a parameter.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS p3_child")
        conn.execute("DROP TABLE IF EXISTS p3_parent")
        conn.execute("CREATE TABLE p3_parent (id int PRIMARY KEY, code text UNIQUE)")
        conn.execute(
            "CREATE TABLE p3_child (id int PRIMARY KEY,"
            " pid int REFERENCES p3_parent (id) ON DELETE CASCADE,"
            " pcode text REFERENCES p3_parent (code))"
        )
        got = conn.execute(
            "SELECT kcu.column_name, ccu.table_name, ccu.column_name, rc.unique_constraint_name,"
            " rc.delete_rule"
            " FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage kcu"
            "  ON kcu.constraint_schema = tc.constraint_schema"
            "  AND kcu.constraint_name = tc.constraint_name"
            " JOIN information_schema.constraint_column_usage ccu"
            "  ON ccu.constraint_schema = tc.constraint_schema"
            "  AND ccu.constraint_name = tc.constraint_name"
            " JOIN information_schema.referential_constraints rc"
            "  ON rc.constraint_schema = tc.constraint_schema"
            "  AND rc.constraint_name = tc.constraint_name"
            " WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_name = %s ORDER BY 1",
            ("p3_child",),
        ).fetchall()
        assert got == [
            ("pcode", "p3_parent", "code", "p3_parent_code_key", "NO ACTION"),
            ("pid", "p3_parent", "id", "p3_parent_pkey", "CASCADE"),
        ], got
        conn.execute("DROP TABLE p3_child")
        conn.execute("DROP TABLE p3_parent")
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1])
