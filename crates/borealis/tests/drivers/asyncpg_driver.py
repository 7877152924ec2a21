"""asyncpg against Borealis: prepared statements and the binary format, as asyncpg always uses.

Usage: python3 asyncpg_driver.py URL. Prints OK and exits 0 on success.
"""

import asyncio
import datetime
import sys

import asyncpg


async def main(url):
    conn = await asyncpg.connect(url)
    assert conn.get_server_version().major == 15, conn.get_server_version()
    await conn.execute("DROP TABLE IF EXISTS apg_items")
    await conn.execute(
        "CREATE TABLE apg_items (id int PRIMARY KEY, big bigint, score float8,"
        " name text, active bool, at timestamp)"
    )
    at = datetime.datetime(2024, 5, 1, 12, 34, 56, 123456)
    rows = [
        (1, 2**40, 1.5, "ann", True, at),
        (2, -(2**40), -0.25, "bob's", False, at + datetime.timedelta(days=1)),
        (3, None, None, None, None, None),
    ]
    await conn.executemany(
        "INSERT INTO apg_items (id, big, score, name, active, at) VALUES ($1, $2, $3, $4, $5, $6)",
        rows,
    )
    got = await conn.fetch("SELECT id, big, score, name, active, at FROM apg_items ORDER BY id")
    assert [tuple(r) for r in got] == rows, got
    assert await conn.fetchval("SELECT name FROM apg_items WHERE id = $1 AND active = $2", 1, True) == "ann"
    stmt = await conn.prepare("SELECT at FROM apg_items WHERE id = $1")
    assert await stmt.fetchval(2) == rows[1][5]
    status = await conn.execute("UPDATE apg_items SET score = $1, name = $2 WHERE id = $3", 9.75, "cy", 3)
    assert status == "UPDATE 1", status
    assert tuple(await conn.fetchrow("SELECT score, name FROM apg_items WHERE id = $1", 3)) == (9.75, "cy")

    # A rolled-back transaction, then a committed one.
    try:
        async with conn.transaction():
            await conn.execute("DELETE FROM apg_items WHERE id = $1", 1)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert await conn.fetchval("SELECT count(*) FROM apg_items") == 3
    async with conn.transaction():
        assert await conn.execute("DELETE FROM apg_items WHERE id = $1", 1) == "DELETE 1"
    assert await conn.fetchval("SELECT count(*) FROM apg_items") == 2

    # A unique violation arrives as the driver's exception with its SQLSTATE.
    try:
        await conn.execute("INSERT INTO apg_items (id) VALUES ($1)", 2)
    except asyncpg.exceptions.UniqueViolationError as e:
        assert e.sqlstate == "23505", e.sqlstate
    else:
        raise AssertionError("duplicate key accepted")

    await conn.execute("DROP TABLE apg_items")
    await conn.close()
    print("OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
