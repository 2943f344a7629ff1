import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Client } from 'pg';
import { createTempDatabase, jsonLines, migrate, spawnNode, waitFor, type SpawnedProcess } from './helpers';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

describe('graceful shutdown (spawned dist/server.js)', () => {
  let db: Awaited<ReturnType<typeof createTempDatabase>>;
  const procs: SpawnedProcess[] = [];
  const lockers: Client[] = [];

  before(async () => {
    db = await createTempDatabase('shutdown');
    await migrate(db.url);
  });

  after(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    for (const c of lockers) await c.end().catch(() => undefined);
    await db?.drop();
  });

  async function start(env: Record<string, string> = {}): Promise<{ p: SpawnedProcess; base: string }> {
    const port = await freePort();
    const p = spawnNode('server.js', {
      DATABASE_URL: db.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'INFO',
      ...env,
    });
    procs.push(p);
    const base = `http://127.0.0.1:${port}`;
    await waitFor('server to listen', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined));
    return { p, base };
  }

  /** Holds an exclusive lock on notes so GET /api/notes blocks inside PostgreSQL: a real in-flight request. */
  async function lockNotes(): Promise<Client> {
    const c = new Client({ connectionString: db.url });
    lockers.push(c);
    await c.connect();
    await c.query('BEGIN');
    await c.query('LOCK TABLE notes IN ACCESS EXCLUSIVE MODE');
    return c;
  }

  async function waitUntilBlocked(): Promise<void> {
    await waitFor('the request to block on the lock', async () => {
      const c = new Client({ connectionString: db.url });
      await c.connect();
      try {
        const { rows } = await c.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'esteira-sample' AND wait_event_type = 'Lock'",
        );
        return rows.length > 0 ? true : undefined;
      } finally {
        await c.end();
      }
    });
  }

  it('SIGTERM lets an in-flight request finish, closes the pool and exits 0', async function () {
    this.timeout(60_000);
    const { p, base } = await start();
    const locker = await lockNotes();
    const inFlight = fetch(`${base}/api/notes`);
    await waitUntilBlocked();

    p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(p.child.exitCode, null, 'still running while a request is in flight');
    await assert.rejects(fetch(`${base}/healthz`), 'no new connections accepted after SIGTERM');

    await locker.query('COMMIT');
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { notes: [] });

    const { code, signal } = await p.exited;
    assert.equal(signal, null);
    assert.equal(code, 0, p.stdout() + p.stderr());
    const msgs = jsonLines(p.stdout()).map((l) => l.msg);
    for (const m of ['received signal; shutting down gracefully', 'database pool closed', 'shutdown complete']) {
      assert.ok(msgs.includes(m), `missing log "${m}" in ${JSON.stringify(msgs)}`);
    }
  });

  it('with SHUTDOWN_DELAY_MS, keeps serving but reports not-ready during the delay', async function () {
    this.timeout(60_000);
    const { p, base } = await start({ SHUTDOWN_DELAY_MS: '1500' });
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    p.child.kill('SIGTERM');
    await waitFor('readyz to turn 503', async () => ((await fetch(`${base}/readyz`)).status === 503 ? true : undefined));
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const { code } = await p.exited;
    assert.equal(code, 0, p.stdout() + p.stderr());
  });

  it('exits 1 when in-flight work outlives SHUTDOWN_TIMEOUT_MS', async function () {
    this.timeout(60_000);
    const { p, base } = await start({ SHUTDOWN_TIMEOUT_MS: '1000' });
    const locker = await lockNotes();
    const inFlight = fetch(`${base}/api/notes`).catch((err: unknown) => err);
    await waitUntilBlocked();
    const started = Date.now();
    p.child.kill('SIGTERM');
    const { code } = await p.exited;
    const took = Date.now() - started;
    await locker.query('ROLLBACK');
    assert.equal(code, 1);
    assert.ok(took >= 900 && took < 10_000, `exited after ${took}ms`);
    assert.ok(jsonLines(p.stdout()).some((l) => l.msg === 'graceful shutdown timed out; exiting'));
    assert.ok((await inFlight) instanceof Error, 'the abandoned request fails');
  });
});
