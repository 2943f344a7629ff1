import assert from 'node:assert/strict';
import { createTempDatabase, migrate, startServer, testConfig, type RunningServer } from './helpers';
import { MAX_NOTE_LENGTH } from '../src/notes';
import { VERSION } from '../src/version';

interface NoteJson {
  id: number;
  text: string;
  createdAt: string;
}

describe('HTTP API (in-process server, real PostgreSQL)', () => {
  let db: Awaited<ReturnType<typeof createTempDatabase>>;
  let server: RunningServer;

  before(async () => {
    db = await createTempDatabase('api');
    await migrate(db.url);
    server = await startServer(testConfig(db.url, { LOG_LEVEL: 'INFO', APP_TITLE: 'Notas HOMOLOGAÇÃO' }));
  });

  after(async () => {
    await server?.close();
    await db?.drop();
  });

  const url = (path: string): string => `${server.baseUrl}${path}`;
  const post = (body: unknown, contentType = 'application/json'): Promise<Response> =>
    fetch(url('/api/notes'), {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('GET / returns service, version and title', async () => {
    const res = await fetch(url('/'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { service: 'sample', version: VERSION, title: 'Notas HOMOLOGAÇÃO' });
  });

  it('GET /healthz is 200 {"status":"ok"}', async () => {
    const res = await fetch(url('/healthz'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('GET /readyz is 200 while the database answers', async () => {
    const res = await fetch(url('/readyz'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('POST /api/notes then GET by id and in the list', async () => {
    const created = await post({ text: '  first note  ' });
    assert.equal(created.status, 201);
    const note = (await created.json()) as NoteJson;
    assert.equal(typeof note.id, 'number');
    assert.equal(note.text, 'first note');
    assert.ok(!Number.isNaN(Date.parse(note.createdAt)));
    assert.equal(created.headers.get('location'), `/api/notes/${note.id}`);

    const second = (await (await post({ text: 'second' })).json()) as NoteJson;

    const one = await fetch(url(`/api/notes/${note.id}`));
    assert.equal(one.status, 200);
    assert.deepEqual(await one.json(), note);

    const list = await fetch(url('/api/notes'));
    assert.equal(list.status, 200);
    const { notes } = (await list.json()) as { notes: NoteJson[] };
    assert.deepEqual(
      notes.map((n) => n.id),
      [second.id, note.id],
      'newest first',
    );

    const limited = (await (await fetch(url('/api/notes?limit=1'))).json()) as { notes: NoteJson[] };
    assert.deepEqual(
      limited.notes.map((n) => n.id),
      [second.id],
    );
  });

  for (const [label, body] of [
    ['missing text', {}],
    ['text not a string', { text: 42 }],
    ['blank text', { text: '   ' }],
    ['text too long', { text: 'x'.repeat(MAX_NOTE_LENGTH + 1) }],
    ['a JSON array', [1, 2]],
  ] as const) {
    it(`POST /api/notes with ${label} is 400`, async () => {
      const res = await post(body);
      assert.equal(res.status, 400);
      const json = (await res.json()) as { error: string; message: string };
      assert.equal(json.error, 'invalid_request');
      assert.ok(json.message.length > 0);
    });
  }

  it('POST /api/notes with malformed JSON is 400', async () => {
    const res = await post('{"text": ');
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'bad_request');
  });

  it('POST /api/notes with a non-JSON content type is 415', async () => {
    const res = await post('text=hello', 'application/x-www-form-urlencoded');
    assert.equal(res.status, 415);
  });

  it('GET /api/notes with a bad limit is 400', async () => {
    assert.equal((await fetch(url('/api/notes?limit=0'))).status, 400);
    assert.equal((await fetch(url('/api/notes?limit=abc'))).status, 400);
  });

  it('GET /api/notes/:id is 404 for a missing or malformed id', async () => {
    for (const id of ['999999', 'abc', '0', '99999999999999999999']) {
      const res = await fetch(url(`/api/notes/${id}`));
      assert.equal(res.status, 404, id);
      assert.equal(((await res.json()) as { error: string }).error, 'not_found');
    }
  });

  it('unknown routes are 404 JSON', async () => {
    const res = await fetch(url('/nope'));
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, 'not_found');
  });

  it('GET /metrics exposes default metrics and the request counter/histogram by route template', async () => {
    await fetch(url('/api/notes/999999'));
    const res = await fetch(url('/metrics'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^# TYPE http_requests_total counter$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="\/healthz",status_code="200"\} \d+$/m);
    assert.match(text, /^http_requests_total\{method="POST",route="\/api\/notes",status_code="201"\} 2$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="\/api\/notes\/:id",status_code="404"\} \d+$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="unmatched",status_code="404"\} \d+$/m);
    assert.match(text, /^http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/healthz",status_code="200"\} \d+$/m);
    assert.match(text, /^process_cpu_seconds_total /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });

  it('logs one JSON line per request at info', async () => {
    const before = server.logs.lines.length;
    await fetch(url('/healthz'), { headers: { 'x-request-id': 'req-123' } });
    // The onResponse hook runs after the response is sent.
    await new Promise((r) => setTimeout(r, 50));
    const lines = server.logs.lines.slice(before).filter((l) => l.msg === 'request completed');
    assert.equal(lines.length, 1);
    const line = lines[0] as Record<string, unknown>;
    assert.equal(line.level, 'info');
    assert.equal(line.service, 'sample');
    assert.equal(line.reqId, 'req-123');
    assert.equal(line.method, 'GET');
    assert.equal(line.route, '/healthz');
    assert.equal(line.statusCode, 200);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(typeof line.time, 'string');
  });

  it('LOG_LEVEL=WARN suppresses request lines', async () => {
    const quiet = await startServer(testConfig(db.url, { LOG_LEVEL: 'WARN' }));
    try {
      await fetch(`${quiet.baseUrl}/healthz`);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(quiet.logs.lines.filter((l) => l.msg === 'request completed'), []);
    } finally {
      await quiet.close();
    }
  });
});
