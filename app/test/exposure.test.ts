import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { LogCapture } from './helpers';

// Nothing listens on port 1: the pool's connection is refused at once, no PostgreSQL needed.
const UNREACHABLE = 'postgresql://app:s3cret-password@127.0.0.1:1/app';

describe('what anonymous clients see of errors (DEBUG=true, no PostgreSQL needed)', () => {
  let app: FastifyInstance;
  let logs: LogCapture;

  before(async () => {
    const config = loadConfig({ DATABASE_URL: UNREACHABLE, DEBUG: 'true', READY_TIMEOUT_MS: '500' });
    logs = new LogCapture();
    app = buildServer(config, { logger: createLogger(config.logLevel, logs) });
    app.get('/boom', async () => {
      throw new Error('relation "secrets" does not exist at db.internal:5432');
    });
    await app.ready();
  });

  after(async () => {
    await app?.close();
  });

  it('/readyz says the database is unreachable, never why', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { status: 'unavailable', reason: 'database unreachable' });
    const logged = logs.lines.find((l) => l.msg === 'database unreachable; not ready');
    assert.ok(logged?.err, 'the database error is logged server-side');
  });

  it('a 500 answers a generic message and the request id, even with DEBUG=true; the error goes to the log', async () => {
    const res = await app.inject({ method: 'GET', url: '/boom', headers: { 'x-request-id': 'req-42' } });
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { error: 'internal_server_error', message: 'internal server error', requestId: 'req-42' });
    assert.ok(!res.body.includes('secrets') && !res.body.includes('db.internal'), 'no error detail in the body');
    const logged = logs.lines.find((l) => l.msg === 'request failed' && l.reqId === 'req-42');
    assert.match(String((logged?.err as { message?: string } | undefined)?.message), /relation "secrets" does not exist/);
  });

  it('a 4xx still tells the client what was wrong with its request', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/notes', payload: { text: '' } });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /text must not be empty/);
  });
});
