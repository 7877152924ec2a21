// node-postgres (pg) against Borealis: what an application does, with the driver's defaults
// (text format, unnamed prepared statements for parameterised queries, named ones on request).
// Usage: node node_postgres.js URL. Prints OK and exits 0 on success.
'use strict';

const assert = require('assert');
const { Client } = require('pg');

async function main(url) {
  const c = new Client({ connectionString: url });
  await c.connect();
  const v = await c.query('SELECT version()');
  assert.match(v.rows[0].version, /^PostgreSQL 15/);
  await c.query('DROP TABLE IF EXISTS np_items');
  await c.query(
    'CREATE TABLE np_items (id int PRIMARY KEY, big bigint, score float8, name text, active bool, at timestamp)');
  const at = new Date(2024, 4, 1, 12, 34, 56, 123);
  const rows = [
    [1, '1099511627776', 1.5, 'ann', true, at],
    [2, '-1099511627776', -0.25, "bob's", false, new Date(at.getTime() + 86400000)],
    [3, null, null, null, null, null],
  ];
  for (const r of rows) {
    await c.query('INSERT INTO np_items (id, big, score, name, active, at) VALUES ($1, $2, $3, $4, $5, $6)', r);
  }
  const got = await c.query('SELECT id, big, score, name, active, at FROM np_items ORDER BY id');
  assert.deepStrictEqual(got.rows.map((r) => [r.id, r.big, r.score, r.name, r.active, r.at]), rows);
  const named = { name: 'by-id', text: 'SELECT name FROM np_items WHERE id = $1 AND active = $2' };
  for (let i = 0; i < 3; i++) {
    const r = await c.query({ ...named, values: [1, true] });
    assert.deepStrictEqual(r.rows, [{ name: 'ann' }]);
  }
  const arr = await c.query({ text: 'SELECT id, name FROM np_items WHERE id = $1', values: [2], rowMode: 'array' });
  assert.deepStrictEqual(arr.rows, [[2, "bob's"]]);
  const u = await c.query('UPDATE np_items SET score = $1, name = $2 WHERE id = $3', [9.75, 'cy', 3]);
  assert.strictEqual(u.rowCount, 1);

  // Rollback discards, commit keeps.
  await c.query('BEGIN');
  await c.query('DELETE FROM np_items WHERE id = $1', [1]);
  await c.query('ROLLBACK');
  assert.strictEqual((await c.query('SELECT count(*) AS n FROM np_items')).rows[0].n, '3');
  await c.query('BEGIN');
  const d = await c.query('DELETE FROM np_items WHERE id = $1', [1]);
  assert.strictEqual(d.rowCount, 1);
  await c.query('COMMIT');
  assert.strictEqual((await c.query('SELECT count(*) AS n FROM np_items')).rows[0].n, '2');

  // A unique violation arrives as the driver's error with its SQLSTATE.
  await assert.rejects(c.query('INSERT INTO np_items (id) VALUES ($1)', [2]), (e) => {
    assert.strictEqual(e.code, '23505');
    return true;
  });
  // The connection stays usable.
  assert.strictEqual((await c.query('SELECT count(*) AS n FROM np_items')).rows[0].n, '2');
  await c.query('DROP TABLE np_items');

  // Arrays come back as JavaScript arrays, and go in as them.
  await c.query('DROP TABLE IF EXISTS np_arrays');
  await c.query('CREATE TABLE np_arrays (id int PRIMARY KEY, tags text[], nums int[])');
  await c.query('INSERT INTO np_arrays VALUES ($1, $2, $3)', [1, ['a', 'b c', 'q"uote', null, 'NULL'], [1, null, 3]]);
  await c.query('INSERT INTO np_arrays VALUES ($1, $2, $3)', [2, [], []]);
  const ar = await c.query('SELECT id, tags, nums FROM np_arrays ORDER BY id');
  assert.deepStrictEqual(ar.rows, [
    { id: 1, tags: ['a', 'b c', 'q"uote', null, 'NULL'], nums: [1, null, 3] },
    { id: 2, tags: [], nums: [] },
  ]);
  const any = await c.query('SELECT id FROM np_arrays WHERE id = ANY($1) ORDER BY id', [[2, 9]]);
  assert.deepStrictEqual(any.rows, [{ id: 2 }]);
  const agg = await c.query('SELECT array_agg(id ORDER BY id) AS ids FROM np_arrays');
  assert.deepStrictEqual(agg.rows[0].ids, [1, 2]);
  await c.query('DROP TABLE np_arrays');
  await c.end();
  console.log('OK');
}

main(process.argv[2] || process.env.DATABASE_URL).catch((e) => {
  console.error(e);
  process.exit(1);
});
