import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { poolConfigFromUrl } from '../src/db';
import { adminUrl, startServer, testConfig, withParams } from './helpers';

const BASE = 'postgresql://user:p%40ss%2Fword@db.example:25060/defaultdb';
const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('DATABASE_URL and sslmode', () => {
  describe('poolConfigFromUrl', () => {
    it('parses host, port, database and a percent-encoded password', () => {
      const c = poolConfigFromUrl(BASE);
      assert.equal(c.host, 'db.example');
      assert.equal(c.port, 25060);
      assert.equal(c.database, 'defaultdb');
      assert.equal(c.user, 'user');
      assert.equal(c.password, 'p@ss/word');
      assert.equal(c.ssl, false);
    });

    it('sslmode=disable means no TLS', () => {
      assert.equal(poolConfigFromUrl(`${BASE}?sslmode=disable`).ssl, false);
    });

    it('sslmode=require means TLS without verification (libpq semantics), and is stripped from the URL', () => {
      const c = poolConfigFromUrl(`${BASE}?sslmode=require&application_name=x`);
      assert.deepEqual(c.ssl, { rejectUnauthorized: false });
      assert.equal(c.connectionString, undefined);
    });

    it('sslmode=require with a CA verifies the chain but not the host name (like libpq)', () => {
      const c = poolConfigFromUrl(`${BASE}?sslmode=require`, { caCert: CA });
      assert.ok(c.ssl && typeof c.ssl === 'object');
      assert.equal(c.ssl.ca, CA);
      assert.equal(c.ssl.rejectUnauthorized, undefined);
      assert.equal(typeof c.ssl.checkServerIdentity, 'function');
    });

    it('sslmode=verify-full verifies chain and host name', () => {
      assert.deepEqual(poolConfigFromUrl(`${BASE}?sslmode=verify-full`).ssl, {});
      assert.deepEqual(poolConfigFromUrl(`${BASE}?sslmode=verify-full`, { caCert: CA }).ssl, { ca: CA });
    });

    it('sslmode=verify-ca needs a CA', () => {
      assert.throws(() => poolConfigFromUrl(`${BASE}?sslmode=verify-ca`), /verify-ca needs a CA certificate/);
      const c = poolConfigFromUrl(`${BASE}?sslmode=verify-ca`, { caCert: CA });
      assert.ok(c.ssl && typeof c.ssl === 'object' && c.ssl.ca === CA);
    });

    it('rejects an unknown sslmode', () => {
      assert.throws(() => poolConfigFromUrl(`${BASE}?sslmode=sometimes`), /unsupported sslmode "sometimes"/);
    });
  });

  describe('against the TLS-enabled test server', function () {
    const caFile = process.env.PG_TEST_CA_FILE;
    before(function () {
      if (!caFile) this.skip();
    });

    async function sslInUse(url: string, caCert?: string): Promise<boolean> {
      const client = new Client(poolConfigFromUrl(url, { caCert }));
      await client.connect();
      try {
        const { rows } = await client.query<{ ssl: boolean }>(
          'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        );
        return rows[0]?.ssl === true;
      } finally {
        await client.end();
      }
    }

    it('without sslmode connects in plain TCP', async () => {
      assert.equal(await sslInUse(adminUrl()), false);
    });

    it('sslmode=require connects over TLS to a server with a self-signed certificate', async () => {
      assert.equal(await sslInUse(withParams(adminUrl(), { sslmode: 'require' })), true);
    });

    it('sslmode=verify-full succeeds with the CA and the right host name', async () => {
      const url = withParams(adminUrl().replace('@127.0.0.1:', '@localhost:'), { sslmode: 'verify-full' });
      assert.equal(await sslInUse(url, readFileSync(caFile as string, 'utf8')), true);
    });

    it('sslmode=verify-full fails without the CA', async () => {
      const url = withParams(adminUrl(), { sslmode: 'verify-full' });
      await assert.rejects(sslInUse(url), /self[- ]signed certificate/);
    });

    it('the server is ready with a DATABASE_URL that has sslmode=require', async () => {
      const server = await startServer(testConfig(withParams(adminUrl(), { sslmode: 'require' })));
      try {
        const res = await fetch(`${server.baseUrl}/readyz`);
        assert.equal(res.status, 200);
      } finally {
        await server.close();
      }
    });
  });
});
