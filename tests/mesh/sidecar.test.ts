// The sidecar's distribution loop against a loopback stand-in of the control service's local distribution endpoints
// (long-poll + acks) and a recording stand-in host, so ECDS-like behaviour is checked without the other parts.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ConfigRejectedError, type Host } from '../../host/index.js';
import { distributionClient, type Ack } from '../../mesh/distribution-client.js';
import { sha256Hex } from '../../mesh/module-source.js';
import { startSidecar } from '../../mesh/sidecar.js';

const REPORT_TOKEN = 'report-token-for-tests-0123';
const WASM = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);

interface FakeControl {
  url: string;
  publish(pluginConfig: unknown, spec?: Record<string, unknown>): void;
  acks: Ack[];
  unauthorized: number;
  waitForAck(n: number): Promise<Ack>;
  close(): Promise<void>;
  server: Server;
}

async function fakeControl(): Promise<FakeControl> {
  let version = 0;
  let current: { version: string; wasmPlugin: unknown } | undefined;
  const waiters: Array<() => void> = [];
  const acks: Ack[] = [];
  const ackWaiters: Array<() => void> = [];
  let unauthorized = 0;
  const server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${REPORT_TOKEN}`) {
      unauthorized++;
      res.writeHead(401).end();
      return;
    }
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'GET' && url.pathname === '/v1/distribution/wasmplugin') {
      const reply = () => {
        if (current === undefined || url.searchParams.get('known') === current.version) return false;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(current));
        return true;
      };
      if (reply()) return;
      const hold = setTimeout(() => res.writeHead(304).end(), Number(url.searchParams.get('waitSeconds') ?? 0) * 1000);
      waiters.push(() => { if (!res.writableEnded && reply()) clearTimeout(hold); });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/distribution/acks') {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        acks.push(JSON.parse(body) as Ack);
        res.writeHead(204).end();
        for (const w of ackWaiters.splice(0)) w();
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    acks,
    get unauthorized() { return unauthorized; },
    publish(pluginConfig, spec = {}) {
      current = {
        version: `v${++version}`,
        wasmPlugin: { kind: 'WasmPlugin', metadata: { name: 'tollgate', namespace: 'default' }, spec: { url: 'file:///fake/tollgate.wasm', sha256: sha256Hex(WASM), pluginName: 'tollgate', pluginConfig, ...spec } },
      };
      for (const w of waiters.splice(0)) w();
    },
    async waitForAck(n) {
      while (acks.length < n) await new Promise<void>((resolve) => ackWaiters.push(resolve));
      return acks[n - 1]!;
    },
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

/** A stand-in host that records what the sidecar asked of it and refuses configurations containing "bad". */
function recordingHost() {
  const calls: Array<[string, string]> = [];
  const host = {
    async load(spec: { pluginConfig: Uint8Array | string; wasm: Uint8Array; rootId: string }) {
      calls.push(['load', String(spec.pluginConfig)]);
      assert.deepEqual(spec.wasm, WASM);
      assert.equal(spec.rootId, 'tollgate');
    },
    async reconfigure(config: Uint8Array | string) {
      if (String(config).includes('bad')) throw new ConfigRejectedError('configure returned false');
      calls.push(['reconfigure', String(config)]);
    },
  };
  return { host: host as unknown as Host, calls };
}

const fetchFake = async (url: string, sha256?: string) => {
  assert.equal(url, 'file:///fake/tollgate.wasm');
  if (sha256 !== sha256Hex(WASM)) throw new Error('sha256 mismatch');
  return WASM;
};

describe('sidecar distribution (ECDS-like)', () => {
  it('loads the first version, reconfigures on changes, refuses a bad one while the old keeps serving, acks each', async () => {
    const control = await fakeControl();
    const { host, calls } = recordingHost();
    const logs: string[] = [];
    const sidecar = startSidecar({
      host, client: distributionClient(control.url, REPORT_TOKEN), proxyId: 'sidecar-test', waitSeconds: 5,
      upstreamHealthy: async () => true, log: (level, m) => logs.push(`${level} ${m}`), fetchModule: fetchFake,
    });
    try {
      control.publish({ b: 1, a: 2 });
      await sidecar.firstApplied;
      assert.deepEqual(await control.waitForAck(1), { proxy: 'sidecar-test', version: 'v1', status: 'applied', upstreamHealthy: true });
      assert.deepEqual(calls, [['load', '{"a":2,"b":1}']]);

      control.publish({ a: 3 });
      assert.equal((await control.waitForAck(2)).status, 'applied');
      control.publish({ a: 'bad' });
      const rejected = await control.waitForAck(3);
      assert.equal(rejected.status, 'rejected');
      assert.equal(rejected.version, 'v3');
      assert.match(rejected.message ?? '', /configure returned false/);
      assert.deepEqual(calls, [['load', '{"a":2,"b":1}'], ['reconfigure', '{"a":3}']]);
      assert.equal(sidecar.state().appliedVersion, 'v2');
      assert.equal(sidecar.state().latestVersion, 'v3');
      assert.ok(logs.some((l) => l.startsWith('error configuration v3 rejected, still serving v2')));

      // A module change cannot be applied in place: refused, v2 keeps serving.
      control.publish({ a: 3 }, { sha256: 'f'.repeat(64) });
      assert.equal((await control.waitForAck(4)).status, 'rejected');
      assert.equal(sidecar.state().appliedVersion, 'v2');
    } finally {
      await sidecar.stop();
      await control.close();
    }
  });

  it('keeps retrying while the control service is down and re-acks at once when it is back', async () => {
    const control = await fakeControl();
    const { host } = recordingHost();
    const sidecar = startSidecar({
      host, client: distributionClient(control.url, REPORT_TOKEN), proxyId: 'p', waitSeconds: 30,
      upstreamHealthy: async () => false, log: () => {}, fetchModule: fetchFake,
    });
    try {
      control.publish({ a: 1 });
      await sidecar.firstApplied;
      assert.equal((await control.waitForAck(1)).upstreamHealthy, false);
      const port = (control.server.address() as AddressInfo).port;
      await control.close();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(sidecar.state().controlReachable, false);
      assert.equal(sidecar.state().appliedVersion, 'v1');
      // Same port again, same version: the sidecar asks without holding and re-acks what it serves.
      await new Promise<void>((resolve) => control.server.listen(port, '127.0.0.1', resolve));
      const ack = await control.waitForAck(2);
      assert.deepEqual([ack.version, ack.status], ['v1', 'applied']);
      assert.equal(sidecar.state().controlReachable, true);
    } finally {
      await sidecar.stop();
      await control.close();
    }
  });

  it('does not get a configuration with a wrong report token', async () => {
    const control = await fakeControl();
    const { host, calls } = recordingHost();
    const sidecar = startSidecar({
      host, client: distributionClient(control.url, 'wrong-token-0123456789'), proxyId: 'p',
      upstreamHealthy: async () => true, log: () => {}, fetchModule: fetchFake,
    });
    try {
      control.publish({ a: 1 });
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(control.unauthorized >= 1);
      assert.deepEqual(calls, []);
      assert.equal(sidecar.state().appliedVersion, undefined);
    } finally {
      await sidecar.stop();
      await control.close();
    }
  });
});

describe('sidecar held back (a staged rollout)', () => {
  it('applies its first version even when held, keeps it while held, then takes the newest at once', async () => {
    const control = await fakeControl();
    const { host, calls } = recordingHost();
    const logs: string[] = [];
    let hold = true;
    const sidecar = startSidecar({
      host, client: distributionClient(control.url, REPORT_TOKEN), proxyId: 'sidecar-held', waitSeconds: 5,
      upstreamHealthy: async () => true, log: (level, m) => logs.push(`${level} ${m}`), fetchModule: fetchFake,
      held: () => hold, holdPollMs: 20,
    });
    try {
      control.publish({ a: 1 });
      await sidecar.firstApplied;
      assert.equal((await control.waitForAck(1)).version, 'v1', 'a proxy must serve something: the first version is never held');
      control.publish({ a: 2 });
      control.publish({ a: 3 });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(sidecar.state().appliedVersion, 'v1');
      assert.deepEqual(calls, [['load', '{"a":1}']]);
      assert.ok(logs.some((l) => /^info holding back configuration v[23]/.test(l)), logs.join('\n'));
      hold = false;
      const ack = await control.waitForAck(2);
      assert.deepEqual([ack.version, ack.status], ['v3', 'applied'], 'released: the newest version, v2 skipped');
      assert.deepEqual(calls, [['load', '{"a":1}'], ['reconfigure', '{"a":3}']]);
      assert.equal(sidecar.state().appliedVersion, 'v3');
    } finally {
      await sidecar.stop();
      await control.close();
    }
  });
});
