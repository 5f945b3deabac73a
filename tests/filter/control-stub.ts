// A stand-in control service for the filter's host-based usage tests: a real loopback HTTP server that records every
// usage report and answers per `mode`, plus FleetBook, a small model of the real service's fleet counting
// (allowed requests per subscription, window and reporter; reply version 2; a sync report answered with every
// subscription that has counts in the current windows). Contract: docs/usage-report.md.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Entry { minute: number; keyId: string; apiId: string; outcome: string; count: number; status?: Record<string, number> }
export interface Report { version: number; batchId: string; reporter: string; sync?: boolean; entries: Entry[]; dropped: number }
export interface FleetEntry { subscription: string; per: string; windowStart: number; others: number }

export const USAGE_CLUSTER = 'outbound|7070||ctl';

export class Control {
  server: Server;
  mode: 'ok' | 'reset' | '503' | '400' | '401' | 'hang' | 'raw' = 'ok';
  /** The 200 body sent in 'raw' mode (garbage replies). */
  raw: Buffer = Buffer.alloc(0);
  received: Array<{ report: Report; headers: Record<string, string | string[] | undefined>; answered: string }> = [];
  /** The reply's fleet entries for an accepted report (called once per arrival, duplicates included). */
  fleet: (r: Report, duplicate: boolean) => unknown[] = () => [];
  port = 0;
  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Report;
        const mode = this.mode;
        this.received.push({ report, headers: req.headers, answered: mode });
        if (mode === 'reset') { req.socket.destroy(); return; }
        if (mode === 'hang') return; // never answers; closeAllConnections() ends it
        if (mode === '503') { res.writeHead(503).end(); return; }
        if (mode === '401') { res.writeHead(401, { 'content-type': 'application/problem+json' }).end('{"type":"t"}'); return; }
        if (mode === 'raw') { res.writeHead(200, { 'content-type': 'application/json' }).end(this.raw); return; }
        if (mode === '400') { res.writeHead(400, { 'content-type': 'application/problem+json' }).end('{"type":"x"}'); return; }
        const stored = this.received.filter((x) => x.answered === 'ok' && x.report.batchId === report.batchId).length > 1;
        res.writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ version: 2, batchId: report.batchId, duplicate: stored, fleet: this.fleet(report, stored) }));
      });
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
  /** Reports the service accepted, each batch id once (what the real service would store). */
  accepted(): Report[] {
    const seen = new Map<string, Report>();
    for (const r of this.received) if (r.answered === 'ok' && !seen.has(r.report.batchId)) seen.set(r.report.batchId, r.report);
    return [...seen.values()];
  }
  /** The host option that routes the usage cluster here. */
  clusters(): Record<string, { host: string; port: number }> {
    return { [USAGE_CLUSTER]: { host: '127.0.0.1', port: this.port } };
  }
}

/** Start (unix s) of the UTC-aligned window of `per` containing `t`. */
export function windowStart(per: string, t: number): number {
  if (per === 'minute') return Math.floor(t / 60) * 60;
  if (per === 'hour') return Math.floor(t / 3600) * 3600;
  if (per === 'day') return Math.floor(t / 86400) * 86400;
  const d = new Date(t * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
}

/**
 * The fleet side of the real service, small: counts allowed requests per (subscription, per, window, reporter), each
 * batch id once, and answers what the rest of the fleet admitted. `subscriptionOf` maps a key id to
 * "<planId>/<consumerId>"; `pers` are the windows kept (the plan's limits of a minute or longer).
 */
export class FleetBook {
  private counts = new Map<string, Map<string, number>>(); // "sub|per|start" → reporter → count
  private seen = new Set<string>();
  constructor(
    private readonly subscriptionOf: (keyId: string) => string | undefined,
    private readonly pers: string[],
    private readonly nowSeconds: () => number,
  ) {}

  /** Adds a report's allowed counts (once per batch id) and returns the reply's fleet entries. */
  answer(r: Report): FleetEntry[] {
    if (!this.seen.has(r.batchId)) {
      this.seen.add(r.batchId);
      for (const e of r.entries) {
        const sub = e.outcome === 'allowed' ? this.subscriptionOf(e.keyId) : undefined;
        if (sub === undefined) continue;
        for (const per of this.pers) {
          const k = `${sub}|${per}|${windowStart(per, e.minute)}`;
          const byReporter = this.counts.get(k) ?? new Map<string, number>();
          byReporter.set(r.reporter, (byReporter.get(r.reporter) ?? 0) + e.count);
          this.counts.set(k, byReporter);
        }
      }
    }
    const now = this.nowSeconds();
    const subs = new Set<string>();
    if (r.sync === true) {
      for (const k of this.counts.keys()) {
        const [sub, per, start] = k.split('|') as [string, string, string];
        if (windowStart(per, now) === Number(start)) subs.add(sub);
      }
    } else {
      for (const e of r.entries) { const s = this.subscriptionOf(e.keyId); if (s !== undefined) subs.add(s); }
    }
    const out: FleetEntry[] = [];
    for (const sub of subs) for (const per of this.pers) {
      const start = windowStart(per, now);
      let others = 0;
      for (const [reporter, n] of this.counts.get(`${sub}|${per}|${start}`) ?? []) if (reporter !== r.reporter) others += n;
      out.push({ subscription: sub, per, windowStart: start, others });
    }
    return out;
  }
}
