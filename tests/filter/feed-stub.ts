// A stand-in control service speaking the key feed contract (contracts/key-feed.ts) for the filter's host-based
// tests: snapshot pages by cursor (ordered by the digest's text, as a SQL ORDER BY would), deltas since a revision
// with an optional long poll, 410 for another epoch, the set digest from the contract module; plus failure modes
// (down, reset, a body cut mid-way, an oversize reply, a wrong digest) and the usage endpoint (answered, no fleet).
// Credit balances: paged after the keys (cursor "c:<subscription>"), set/remove in deltas, covered by the digest, and
// the fleet's creditSpend on the snapshot's last page, with deltas and in usage replies.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  KEY_FEED_DELTAS_PATH, KEY_FEED_SNAPSHOT_PATH, KEY_FEED_VERSION, OP_KEEPS_KEY, SNAPSHOT_REQUIRED_TYPE, setDigest,
  type CreditSpend, type DeltaPage, type FeedChange, type FeedCredit, type FeedCreditChange, type FeedKey, type FeedOp,
  type SnapshotPage,
} from '../../contracts/key-feed.js';
import type { FleetWindow } from '../../contracts/usage-report.js';

export const FEED_CLUSTER = 'outbound|7070||ctl';

export type FeedMode = 'ok' | 'down' | 'reset' | 'cut' | 'oversize' | 'wrongDigest' | 'garbage';

export interface FeedRequest { path: string; query: URLSearchParams; headers: IncomingMessage['headers']; answered: FeedMode }

export class FeedControl {
  readonly server: Server;
  port = 0;
  epoch = 'ep-1';
  revision = 0;
  readonly keys = new Map<string, FeedKey>();
  /** Every change, in revision order (kept whole: a test trims it to force a 410). */
  history: Array<{ revision: number; change: FeedChange }> = [];
  /** Oldest revision deltas can be served from. */
  horizon = 0;
  mode: FeedMode = 'ok';
  /** Failure modes apply to these endpoints only. */
  modeFor: 'snapshot' | 'deltas' | 'both' = 'both';
  requests: FeedRequest[] = [];
  /** Usage reports received (POSTs): a test samples it against the host's virtual clock. */
  usageReports = 0;
  /** The fleet windows sent on a snapshot's last page and with deltas that add keys. */
  fleet: () => FleetWindow[] = () => [];
  /** Credit balances by subscription, and their changes in revision order. */
  readonly credits = new Map<string, FeedCredit>();
  creditHistory: Array<{ revision: number; change: FeedCreditChange }> = [];
  /** The fleet's spend sent on a snapshot's last page, with deltas and in usage replies. */
  creditSpend: () => CreditSpend[] = () => [];
  private waiters: Array<() => void> = [];

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const w of this.waiters.splice(0)) w();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Back to a fresh control service (epoch ep-1, answering) holding `keys`, added as revisions 1…n. */
  reset(keys: readonly FeedKey[]): void {
    this.keys.clear();
    this.history = [];
    this.revision = 0;
    this.horizon = 0;
    this.epoch = 'ep-1';
    this.mode = 'ok';
    this.modeFor = 'both';
    this.requests = [];
    this.usageReports = 0;
    this.fleet = () => [];
    this.credits.clear();
    this.creditHistory = [];
    this.creditSpend = () => [];
    for (const k of keys) this.change('add', k);
  }

  /** Sets (a new grant) or removes a subscription's balance: one new revision, long polls woken. */
  creditChange(op: 'set' | 'remove', credit: FeedCredit): void {
    this.revision++;
    if (op === 'set') this.credits.set(credit[0], credit);
    else this.credits.delete(credit[0]);
    this.creditHistory.push({ revision: this.revision, change: { op, credit } });
    for (const w of this.waiters.splice(0)) w();
  }

  clusters(): Record<string, { host: string; port: number }> {
    return { [FEED_CLUSTER]: { host: '127.0.0.1', port: this.port } };
  }

  /** Applies a change (one new revision) and wakes long polls. */
  change(op: FeedOp, key: FeedKey): void {
    this.revision++;
    if (OP_KEEPS_KEY[op]) this.keys.set(key[0], key);
    else this.keys.delete(key[0]);
    this.history.push({ revision: this.revision, change: { op, key } });
    for (const w of this.waiters.splice(0)) w();
  }

  /** The control service restarted with another store: new epoch, history gone. */
  restart(epoch: string): void {
    this.epoch = epoch;
    this.history = [];
    this.creditHistory = [];
    this.horizon = this.revision;
    for (const w of this.waiters.splice(0)) w();
  }

  digest(): string {
    return setDigest(this.keys.values(), this.credits.values());
  }

  snapshots(): FeedRequest[] { return this.requests.filter((r) => r.path === KEY_FEED_SNAPSHOT_PATH); }
  deltas(): FeedRequest[] { return this.requests.filter((r) => r.path === KEY_FEED_DELTAS_PATH); }

  private failing(kind: 'snapshot' | 'deltas'): boolean {
    return this.mode !== 'ok' && (this.modeFor === 'both' || this.modeFor === kind);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') {
        // The usage endpoint: accepted, no fleet.
        this.usageReports++;
        const batch = (JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { batchId?: string }).batchId;
        const spend = this.creditSpend();
        res.writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ version: 2, batchId: batch, duplicate: false, fleet: [], ...(spend.length > 0 ? { creditSpend: spend } : {}) }));
        return;
      }
      const kind = url.pathname === KEY_FEED_SNAPSHOT_PATH ? 'snapshot' : url.pathname === KEY_FEED_DELTAS_PATH ? 'deltas' : undefined;
      const entry: FeedRequest = { path: url.pathname, query: url.searchParams, headers: req.headers, answered: this.mode };
      this.requests.push(entry);
      if (kind === undefined) { res.writeHead(404).end(); return; }
      if (this.failing(kind)) {
        entry.answered = this.mode;
        if (this.mode === 'down') { res.writeHead(503).end(); return; }
        if (this.mode === 'reset') { req.socket.destroy(); return; }
      } else entry.answered = 'ok';
      if (kind === 'snapshot') this.snapshot(url.searchParams, res, entry.answered);
      else this.deltasReply(url.searchParams, res, entry.answered);
    });
  }

  private send(res: ServerResponse, body: unknown, mode: FeedMode): void {
    let text = JSON.stringify(body);
    if (mode === 'garbage') text = text.slice(0, text.length >> 1) + '\u0000{]"\\ud800' + text;
    if (mode === 'oversize') text = text.slice(0, -1) + ',"pad":"' + 'x'.repeat(5 * 1024 * 1024) + '"}';
    if (mode === 'cut') {
      // Headers promise the whole body; half of it arrives, then the connection is reset.
      const buf = Buffer.from(text);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(buf.length) });
      res.write(buf.subarray(0, buf.length >> 1), () => res.socket?.destroy());
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(text);
  }

  private snapshot(q: URLSearchParams, res: ServerResponse, mode: FeedMode): void {
    const limit = Math.max(1, Math.min(Number(q.get('limit') ?? 2000), 10_000));
    const after = q.get('after');
    let page: SnapshotPage;
    let last: boolean;
    if (after?.startsWith('c:')) {
      // Credit pages: keys: [], balances ordered by subscription.
      const afterSub = after.slice(2);
      const from = [...this.credits.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).filter((c) => c[0] > afterSub);
      const credits = from.slice(0, limit);
      last = from.length <= limit;
      page = {
        version: KEY_FEED_VERSION, kind: 'snapshot', epoch: this.epoch, revision: this.revision, keys: [], credits,
        next: last ? null : `c:${credits[credits.length - 1]![0]}`,
      };
    } else {
      const all = [...this.keys.values()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const from = after === null ? all : all.filter((k) => k[0] > after);
      const keys = from.slice(0, limit);
      const keysDone = from.length <= limit;
      last = keysDone && this.credits.size === 0;
      page = {
        version: KEY_FEED_VERSION, kind: 'snapshot', epoch: this.epoch, revision: this.revision, keys,
        next: last ? null : keysDone ? 'c:' : keys[keys.length - 1]![0],
      };
    }
    if (last) {
      page.digest = mode === 'wrongDigest' ? 'ffffffffffffffff' : this.digest();
      page.fleet = this.fleet();
      const spend = this.creditSpend();
      if (spend.length > 0) page.creditSpend = spend;
    }
    this.send(res, page, mode);
  }

  private deltasReply(q: URLSearchParams, res: ServerResponse, mode: FeedMode): void {
    const since = Number(q.get('since'));
    const wait = Number(q.get('wait') ?? 0);
    const limit = Math.max(1, Number(q.get('limit') ?? 2000));
    if (q.get('epoch') !== this.epoch || since < this.horizon || since > this.revision) {
      res.writeHead(410, { 'content-type': 'application/problem+json' })
        .end(JSON.stringify({ type: SNAPSHOT_REQUIRED_TYPE, title: 'snapshot required', status: 410 }));
      return;
    }
    const answer = (): void => {
      const newer = this.history.filter((h) => h.revision > since);
      const byKey = new Map<string, { revision: number; change: FeedChange }>();
      for (const h of newer) { byKey.delete(h.change.key[0]); byKey.set(h.change.key[0], h); }
      const ordered = [...byKey.values()].sort((a, b) => a.revision - b.revision);
      const taken = ordered.slice(0, limit);
      const more = ordered.length > limit;
      const revision = more ? taken[taken.length - 1]!.revision : this.revision;
      const page: DeltaPage = {
        version: KEY_FEED_VERSION, kind: 'delta', epoch: this.epoch, since, revision, more,
        changes: taken.map((h) => h.change),
      };
      // Balances changed up to the page's revision, latest state each (a removal carries the removed balance).
      const credits = new Map<string, FeedCreditChange>();
      for (const h of this.creditHistory) {
        if (h.revision > since && h.revision <= revision) { credits.delete(h.change.credit[0]); credits.set(h.change.credit[0], h.change); }
      }
      if (credits.size > 0) {
        page.credits = [...credits.values()];
        const spend = this.creditSpend();
        if (spend.length > 0) page.creditSpend = spend;
      }
      if (!more) page.digest = mode === 'wrongDigest' ? 'ffffffffffffffff' : this.digest();
      if (taken.some((h) => OP_KEEPS_KEY[h.change.op])) page.fleet = this.fleet();
      this.send(res, page, mode);
    };
    if (this.revision > since || wait <= 0) { answer(); return; }
    const timer = setTimeout(() => { this.waiters = this.waiters.filter((w) => w !== wake); answer(); }, wait * 1000);
    const wake = (): void => { clearTimeout(timer); if (!res.writableEnded && !res.destroyed) answer(); };
    this.waiters.push(wake);
  }
}
