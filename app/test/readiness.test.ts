import assert from 'node:assert/strict';
import { shutdown } from '../src/app';
import { createTempDatabase, migrate, pgCtl, startServer, testConfig, waitFor, type RunningServer } from './helpers';

async function status(url: string): Promise<number> {
  return (await fetch(url)).status;
}

describe('readiness', () => {
  let db: Awaited<ReturnType<typeof createTempDatabase>>;
  let server: RunningServer;

  before(async () => {
    db = await createTempDatabase('ready');
    await migrate(db.url);
    server = await startServer(testConfig(db.url, { READY_TIMEOUT_MS: '1000', LOG_LEVEL: 'INFO' }));
  });

  after(async () => {
    await server?.close();
    await db?.drop();
  });

  it('flips to 503 when PostgreSQL stops and back to 200 when it restarts (liveness stays 200)', async function () {
    this.timeout(90_000);
    assert.equal(await status(`${server.baseUrl}/readyz`), 200);
    // Give the pool an idle connection that the stop will kill, as in production.
    assert.equal(await status(`${server.baseUrl}/api/notes`), 200);

    pgCtl('-m', 'fast', '-w', 'stop');
    try {
      const res = await fetch(`${server.baseUrl}/readyz`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { status: 'unavailable', reason: 'database unreachable' }, 'no database error reaches the client');

      assert.equal(await status(`${server.baseUrl}/healthz`), 200, 'liveness must not depend on the database');
      const failed = await fetch(`${server.baseUrl}/api/notes`);
      assert.equal(failed.status, 500, 'API fails while the database is down');
      const body = (await failed.json()) as Record<string, unknown>;
      assert.equal(body.message, 'internal server error');
      assert.equal(await status(`${server.baseUrl}/readyz`), 503, 'still unready');
    } finally {
      pgCtl('-w', '-t', '60', 'start');
    }

    await waitFor('readyz to recover', async () =>
      (await status(`${server.baseUrl}/readyz`)) === 200 ? true : undefined,
    );
    assert.equal(await status(`${server.baseUrl}/api/notes`), 200);
    const warn = server.logs.lines.find((l) => l.msg === 'database unreachable; not ready');
    assert.ok(warn, 'logs the readiness loss');
    assert.ok((warn.err as { message?: string } | undefined)?.message, 'with the database error, server-side');
    assert.ok(server.logs.lines.some((l) => l.msg === 'database reachable again; ready'));
  });

  it('reports 503 "shutting down" as soon as shutdown starts, while still serving', async () => {
    const s = await startServer(testConfig(db.url));
    const closed = shutdown(s.app, 500);
    try {
      const res = await fetch(`${s.baseUrl}/readyz`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { status: 'unavailable', reason: 'shutting down' });
      assert.equal(await status(`${s.baseUrl}/healthz`), 200);
    } finally {
      await closed;
    }
    await assert.rejects(fetch(`${s.baseUrl}/healthz`), 'listener closed after shutdown');
  });
});
