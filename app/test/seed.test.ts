import assert from 'node:assert/strict';
import { runMigrations } from '../src/migrations';
import { runSeed, WELCOME_NOTE } from '../src/seeds';
import { createTempDatabase, MIGRATIONS_DIR, query, silentLogger, spawnNode } from './helpers';

describe('seed', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function migratedDb(): Promise<string> {
    const db = await createTempDatabase('seed');
    cleanups.push(db.drop);
    await runMigrations({ databaseUrl: db.url, dir: MIGRATIONS_DIR, logger: silentLogger() });
    return db.url;
  }

  const welcomeNotes = async (url: string) =>
    (await query(url, 'SELECT id FROM notes WHERE text = $1', [WELCOME_NOTE])).length;

  it('inserts the welcome note once, however often it runs', async () => {
    const url = await migratedDb();
    assert.equal(await runSeed({ databaseUrl: url, logger: silentLogger() }), 1);
    assert.equal(await runSeed({ databaseUrl: url, logger: silentLogger() }), 0);
    assert.equal(await welcomeNotes(url), 1);
  });

  it('concurrent `node dist/seed.js` processes all exit 0 and insert one note', async () => {
    const url = await migratedDb();
    const procs = [0, 1, 2].map(() => spawnNode('seed.js', { DATABASE_URL: url, LOG_LEVEL: 'INFO' }));
    const exits = await Promise.all(procs.map((p) => p.exited));
    exits.forEach((e, i) => assert.equal(e.code, 0, `seeder ${i}: ${procs[i]?.stdout()}${procs[i]?.stderr()}`));
    assert.equal(await welcomeNotes(url), 1);
  });
});
