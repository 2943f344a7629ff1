import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/config';
import { spawnNode } from './helpers';

const URL = 'postgresql://u:p@127.0.0.1:5432/db';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('loadConfig accepted an invalid environment');
}

describe('config (env validation)', () => {
  it('applies defaults', () => {
    const c = loadConfig({ DATABASE_URL: URL });
    assert.equal(c.port, 8000);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.debug, false);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.appTitle, 'esteira sample');
    assert.equal(c.databaseUrl, URL);
  });

  it('parses PORT, LOG_LEVEL (any case) and APP_TITLE', () => {
    const c = loadConfig({ DATABASE_URL: URL, PORT: '9090', LOG_LEVEL: 'warn', APP_TITLE: 'Notas HOMOLOGAÇÃO' });
    assert.equal(c.port, 9090);
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.appTitle, 'Notas HOMOLOGAÇÃO');
  });

  it('DEBUG=true implies the debug log level', () => {
    assert.equal(loadConfig({ DATABASE_URL: URL, DEBUG: 'true', LOG_LEVEL: 'ERROR' }).logLevel, 'debug');
    const c = loadConfig({ DATABASE_URL: URL, DEBUG: 'FALSE', LOG_LEVEL: 'ERROR' });
    assert.equal(c.debug, false);
    assert.equal(c.logLevel, 'error');
  });

  it('treats blank values as unset', () => {
    const c = loadConfig({ DATABASE_URL: URL, PORT: '', DEBUG: ' ', LOG_LEVEL: '' });
    assert.equal(c.port, 8000);
    assert.equal(c.logLevel, 'info');
  });

  it('METRICS_PORT gives /metrics a port of its own, never the serving port', () => {
    assert.equal(loadConfig({ DATABASE_URL: URL }).metricsPort, undefined);
    assert.equal(loadConfig({ DATABASE_URL: URL, METRICS_PORT: '9100' }).metricsPort, 9100);
    assert.match(configError({ DATABASE_URL: URL, METRICS_PORT: '8000' }).message, /METRICS_PORT must differ from PORT \(8000\)/);
    assert.match(configError({ DATABASE_URL: URL, METRICS_PORT: '0' }).message, /METRICS_PORT must be between 1 and 65535/);
  });

  it('fails with a clear message when DATABASE_URL is missing', () => {
    const err = configError({});
    assert.match(err.message, /^invalid configuration:/);
    assert.match(err.message, /DATABASE_URL is required/);
  });

  it('lists every invalid variable at once', () => {
    const err = configError({ DATABASE_URL: 'mysql://x', PORT: '80a', LOG_LEVEL: 'verbose', DEBUG: 'yes' });
    assert.equal(err.issues.length, 4, err.message);
    assert.match(err.message, /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/);
    assert.match(err.message, /PORT must be a whole number/);
    assert.match(err.message, /LOG_LEVEL must be one of DEBUG, INFO, WARN, ERROR/);
    assert.match(err.message, /DEBUG must be "true" or "false"/);
  });

  it('rejects an out-of-range PORT', () => {
    assert.match(configError({ DATABASE_URL: URL, PORT: '70000' }).message, /PORT must be between 1 and 65535/);
  });

  it('the server process exits 1 with the message on stderr', async () => {
    const p = spawnNode('server.js', { PORT: 'abc' });
    const { code } = await p.exited;
    assert.equal(code, 1);
    assert.match(p.stderr(), /sample: invalid configuration:/);
    assert.match(p.stderr(), /DATABASE_URL is required/);
    assert.match(p.stderr(), /PORT must be a whole number/);
  });
});
