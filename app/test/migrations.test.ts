import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, runMigrations } from '../src/migrations';
import {
  adminUrl,
  createTempDatabase,
  jsonLines,
  MIGRATIONS_DIR,
  query,
  silentLogger,
  spawnNode,
} from './helpers';

const N = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).length;

describe('migrations', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function freshDb(): Promise<string> {
    const db = await createTempDatabase('mig');
    cleanups.push(db.drop);
    return db.url;
  }

  function tempDir(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'sample-migrations-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
    return dir;
  }

  it('ships at least two migrations in NNNN_name.sql form', async () => {
    const migrations = await loadMigrations(MIGRATIONS_DIR);
    assert.ok(migrations.length >= 2);
    assert.deepEqual(
      migrations.map((m) => m.version),
      [...migrations.map((m) => m.version)].sort(),
    );
  });

  it('is idempotent: the second run applies nothing', async () => {
    const url = await freshDb();
    const first = await runMigrations({ databaseUrl: url, dir: MIGRATIONS_DIR, logger: silentLogger() });
    assert.equal(first.applied.length, N);
    assert.deepEqual(first.skipped, []);

    const second = await runMigrations({ databaseUrl: url, dir: MIGRATIONS_DIR, logger: silentLogger() });
    assert.deepEqual(second.applied, []);
    assert.equal(second.skipped.length, N);

    const rows = await query<{ version: string }>(url, 'SELECT version FROM schema_migrations ORDER BY version');
    assert.equal(rows.length, N);
    assert.deepEqual(
      rows.map((r) => r.version),
      (await loadMigrations(MIGRATIONS_DIR)).map((m) => m.version),
    );
    const idx = await query(url, "SELECT 1 FROM pg_indexes WHERE indexname = 'notes_created_at_id_idx'");
    assert.equal(idx.length, 1);
  });

  it('two concurrent migrators (in-process) both succeed and apply each migration once', async () => {
    const url = await freshDb();
    const results = await Promise.all([
      runMigrations({ databaseUrl: url, dir: MIGRATIONS_DIR, logger: silentLogger() }),
      runMigrations({ databaseUrl: url, dir: MIGRATIONS_DIR, logger: silentLogger() }),
    ]);
    const applied = results.flatMap((r) => r.applied).sort();
    assert.equal(applied.length, N);
    assert.equal(new Set(applied).size, N);
    assert.equal((await query(url, 'SELECT * FROM schema_migrations')).length, N);
  });

  it('two concurrent `node dist/migrate.js` processes both exit 0', async () => {
    const url = await freshDb();
    const procs = [0, 1, 2].map(() => spawnNode('migrate.js', { DATABASE_URL: url, LOG_LEVEL: 'INFO' }));
    const exits = await Promise.all(procs.map((p) => p.exited));
    exits.forEach((e, i) => assert.equal(e.code, 0, `migrator ${i}: ${procs[i]?.stdout()}${procs[i]?.stderr()}`));
    const appliedLines = procs.flatMap((p) => jsonLines(p.stdout())).filter((l) => l.msg === 'migration applied');
    assert.equal(appliedLines.length, N, 'each migration applied by exactly one process');
    assert.equal((await query(url, 'SELECT * FROM schema_migrations')).length, N);
  });

  it('a failing migration is rolled back, recorded nowhere, and reported with its file name', async () => {
    const url = await freshDb();
    const dir = tempDir({
      '0001_ok.sql': 'CREATE TABLE a (id int);',
      '0002_broken.sql': 'CREATE TABLE b (id int);\nSELECT * FROM does_not_exist;',
    });
    await assert.rejects(
      runMigrations({ databaseUrl: url, dir, logger: silentLogger() }),
      /migration 0002_broken\.sql failed and was rolled back: relation "does_not_exist" does not exist/,
    );
    const versions = await query<{ version: string }>(url, 'SELECT version FROM schema_migrations');
    assert.deepEqual(versions.map((v) => v.version), ['0001']);
    assert.equal((await query(url, "SELECT 1 FROM pg_tables WHERE tablename = 'b'")).length, 0);
  });

  it('the CLI exits non-zero with a clear log when a migration fails', async () => {
    const url = await freshDb();
    const dir = tempDir({ '0001_broken.sql': 'SELEC 1;' });
    const p = spawnNode('migrate.js', { DATABASE_URL: url, MIGRATIONS_DIR: dir });
    const { code } = await p.exited;
    assert.equal(code, 1);
    const error = jsonLines(p.stdout()).find((l) => l.level === 'error');
    assert.ok(error, p.stdout());
    assert.match(String(error.msg), /migration failed: migration 0001_broken\.sql failed and was rolled back: syntax error/);
  });

  it('the CLI exits non-zero when the database is unreachable', async () => {
    const u = new URL(adminUrl());
    u.port = '1'; // nothing listens there
    const p = spawnNode('migrate.js', { DATABASE_URL: u.toString() });
    const { code } = await p.exited;
    assert.equal(code, 1);
    assert.match(p.stdout(), /migration failed: .*ECONNREFUSED/);
  });

  it('refuses a migration edited after it was applied', async () => {
    const url = await freshDb();
    const dir = tempDir({});
    for (const f of readdirSync(MIGRATIONS_DIR)) copyFileSync(join(MIGRATIONS_DIR, f), join(dir, f));
    await runMigrations({ databaseUrl: url, dir, logger: silentLogger() });
    appendFileSync(join(dir, '0001_create_notes.sql'), '\n-- edited\n');
    await assert.rejects(
      runMigrations({ databaseUrl: url, dir, logger: silentLogger() }),
      /0001_create_notes\.sql was changed after it was applied/,
    );
  });

  it('rejects badly named or duplicate migration files', async () => {
    await assert.rejects(loadMigrations(tempDir({ '1_x.sql': 'SELECT 1;' })), /does not match NNNN_name\.sql/);
    await assert.rejects(
      loadMigrations(tempDir({ '0001_a.sql': 'SELECT 1;', '0001_b.sql': 'SELECT 1;' })),
      /share version 0001/,
    );
  });
});
