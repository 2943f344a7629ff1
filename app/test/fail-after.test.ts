import assert from 'node:assert/strict';
import { buildServer } from '../src/app';
import { createLogger } from '../src/logger';
import { LogCapture, testConfig } from './helpers';

// No database is reached: `/`, /healthz and /metrics never query it.
const URL = 'postgresql://u:p@127.0.0.1:1/db';

describe('FAIL_AFTER_SECONDS: a release that starts failing later', () => {
  it('serves until then; afterwards every route but the probes and /metrics answers 500, counted in http_requests_total', async () => {
    const config = testConfig(URL, { FAIL_AFTER_SECONDS: '1' });
    const app = buildServer(config, { logger: createLogger(config.logLevel, new LogCapture()) });
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const failing = await app.inject({ method: 'GET', url: '/' });
      assert.equal(failing.statusCode, 500);
      assert.match(failing.body, /failing on purpose/);
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /^http_requests_total\{method="GET",route="\/",status_code="500"\} 1$/m);
      assert.match(metrics, /^http_requests_total\{method="GET",route="\/",status_code="200"\} 1$/m);
    } finally {
      await app.close();
    }
  });

  it('is a whole number of seconds', () => {
    assert.throws(() => testConfig(URL, { FAIL_AFTER_SECONDS: 'soon' }), /FAIL_AFTER_SECONDS must be a whole number/);
  });

  it('unset, nothing fails on purpose', () => {
    assert.equal(testConfig(URL).failAfterSeconds, undefined);
  });
});
