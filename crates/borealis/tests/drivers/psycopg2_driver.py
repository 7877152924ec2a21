"""psycopg2 against Borealis: what an application does, with the driver's defaults.

psycopg2 interpolates parameters on the client and sends simple queries.
Usage: python3 psycopg2_driver.py URL. Prints OK and exits 0 on success.
"""

import datetime
import sys

import psycopg2
import psycopg2.errors
import psycopg2.extras


def main(url):
    conn = psycopg2.connect(url)
    assert conn.server_version >= 150000, conn.server_version
    cur = conn.cursor()
    cur.execute("SELECT version()")
    assert cur.fetchone()[0].startswith("PostgreSQL 15"), "version()"
    cur.execute("DROP TABLE IF EXISTS p2_items")
    cur.execute(
        "CREATE TABLE p2_items (id int PRIMARY KEY, big bigint, score float8,"
        " name text, active bool, at timestamp)"
    )
    conn.commit()

    at = datetime.datetime(2024, 5, 1, 12, 34, 56, 123456)
    rows = [
        (1, 2**40, 1.5, "ann", True, at),
        (2, -(2**40), -0.25, "bob's \"quoted\" \\ name", False, at + datetime.timedelta(days=1)),
        (3, None, None, None, None, None),
    ]
    cur.executemany(
        "INSERT INTO p2_items (id, big, score, name, active, at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        rows,
    )
    conn.commit()
    cur.execute("SELECT id, big, score, name, active, at FROM p2_items ORDER BY id")
    got = cur.fetchall()
    assert got == rows, got
    cur.execute(
        "SELECT name FROM p2_items WHERE id = %(id)s AND active = %(a)s", {"id": 1, "a": True}
    )
    assert cur.fetchone() == ("ann",)
    psycopg2.extras.execute_values(
        cur, "INSERT INTO p2_items (id, name) VALUES %s", [(4, "d"), (5, "e")]
    )
    cur.execute("UPDATE p2_items SET score = %s, name = %s WHERE id = %s", (9.75, "cy", 3))
    assert cur.rowcount == 1, cur.rowcount
    conn.commit()
    cur.execute("SELECT score, name FROM p2_items WHERE id = %s", (3,))
    assert cur.fetchone() == (9.75, "cy")

    # Rollback discards; the connection context manager commits.
    cur.execute("DELETE FROM p2_items WHERE id = %s", (1,))
    assert cur.rowcount == 1
    conn.rollback()
    cur.execute("SELECT count(*) FROM p2_items")
    assert cur.fetchone()[0] == 5
    with conn:
        with conn.cursor() as c2:
            c2.execute("DELETE FROM p2_items WHERE id IN (%s, %s)", (4, 5))
    cur.execute("SELECT count(*) FROM p2_items")
    assert cur.fetchone()[0] == 3
    conn.commit()

    # A unique violation arrives as the driver's exception with its SQLSTATE.
    try:
        cur.execute("INSERT INTO p2_items (id) VALUES (%s)", (2,))
    except psycopg2.errors.UniqueViolation as e:
        assert e.pgcode == "23505", e.pgcode
    else:
        raise AssertionError("duplicate key accepted")
    # The failed transaction refuses further commands until rolled back.
    try:
        cur.execute("SELECT 1")
    except psycopg2.errors.InFailedSqlTransaction as e:
        assert e.pgcode == "25P02", e.pgcode
    else:
        raise AssertionError("command ran in an aborted transaction")
    conn.rollback()

    conn.autocommit = True
    cur.execute("SELECT count(*) FROM p2_items")
    assert cur.fetchone()[0] == 3
    cur.execute("DROP TABLE p2_items")
    conn.close()
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1])
