// The billing export (docs/usage-export.md) on the run's backend (SQLite, or PostgreSQL with
// TOLLGATE_TEST_STORE=postgres): random batches with retries, concurrent duplicates and refused entries sent over real
// HTTP to POST /v1/usage/reports; GET /v1/usage/export totals equal the sum of the distinct batches for every groupBy
// combination and granularity; cursors resume exactly at every row; CSV parses back to the NDJSON rows; the order is
// stable and bytewise; bad parameters answer problem+json 400. The pure rules (periods, cursor, CSV) without a store.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import {
  csvField, csvLine, decodeCursor, encodeCursor, exportColumns, isComplete, parseCsv, parseGroupBy, periodEnd, periodStart, DIMENSIONS, type ExportGranularity,
} from '../../control/usage/export.js';
import { exportRecords } from '../../control/usage/export-reader.js';
import { MAX_REPORT_AGE_S } from '../../control/usage/report-rules.js';
import type { ExportDimension } from '../../control/store/repository.js';
import { ADMIN, REPORT, adminOk, currentMinute, testApp, type TestApp } from './helpers.js';
import { randomEntries, sendBatch, type Entry } from './random-usage.js';

const t0 = Date.UTC(2026, 10, 29, 21, 0, 0) / 1000;

describe('export rules without a store', () => {
  it('periods are UTC calendar hours, days and months', () => {
    assert.equal(periodStart('hour', t0 + 1799), t0);
    assert.equal(periodEnd('hour', t0), t0 + 3600);
    assert.equal(periodStart('day', t0), Date.UTC(2026, 10, 29) / 1000);
    assert.equal(periodStart('month', t0), Date.UTC(2026, 10, 1) / 1000);
    assert.equal(periodEnd('month', Date.UTC(2026, 11, 1) / 1000), Date.UTC(2027, 0, 1) / 1000, 'December ends at the new year');
    assert.equal(periodEnd('month', Date.UTC(2028, 1, 1) / 1000) - Date.UTC(2028, 1, 1) / 1000, 29 * 86_400, 'a leap February');
  });

  it('a period is complete once reports for it can no longer be accepted', () => {
    assert.equal(isComplete(t0, t0 + MAX_REPORT_AGE_S - 1), false);
    assert.equal(isComplete(t0, t0 + MAX_REPORT_AGE_S), true);
  });

  it('groupBy: canonical order, unknown and repeated dimensions named', () => {
    assert.deepEqual(parseGroupBy('operation, consumer'), ['consumer', 'operation']);
    assert.deepEqual(parseGroupBy(undefined), []);
    assert.match(parseGroupBy('consumer,key') as string, /unknown dimension 'key'/);
    assert.match(parseGroupBy('plan,plan') as string, /'plan' is named twice/);
  });

  it('cursor: round trip; another version, grouping or garbage is refused', () => {
    const c = { granularity: 'day' as const, groupBy: ['consumer', 'api'] as ExportDimension[], period: Date.UTC(2026, 10, 29) / 1000, keys: ['c1', 'a,"x'] };
    const text = encodeCursor(c);
    assert.match(text, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeCursor(text, c), c);
    assert.match(decodeCursor(text, { granularity: 'hour', groupBy: c.groupBy }) as string, /another granularity or groupBy/);
    assert.match(decodeCursor(text, { granularity: 'day', groupBy: ['consumer'] }) as string, /another granularity or groupBy/);
    const v2 = Buffer.from(JSON.stringify({ v: 2, g: 'day', b: 'consumer,api', p: c.period, k: c.keys })).toString('base64url');
    assert.match(decodeCursor(v2, c) as string, /version/);
    assert.match(decodeCursor('%%%', c) as string, /not a cursor/);
    assert.match(decodeCursor(Buffer.from('[1,2]').toString('base64url'), c) as string, /not a cursor/);
    const unaligned = Buffer.from(JSON.stringify({ v: 1, g: 'day', b: 'consumer,api', p: c.period + 1, k: c.keys })).toString('base64url');
    assert.match(decodeCursor(unaligned, c) as string, /period/);
  });

  it('CSV fields per RFC 4180, and back', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\r\nlines'), '"two\r\nlines"');
    const text = csvLine(['a,b', 'say "hi"', 'two\r\nlines', 3, true]) + csvLine(['', 'x']);
    assert.deepEqual(parseCsv(text), [['a,b', 'say "hi"', 'two\r\nlines', '3', 'true'], ['', 'x']]);
  });
});

interface Row extends Record<string, string | number | boolean> { period_start: string; period_end: string; cursor: string; complete: boolean }
interface Trailer { end: true; rows: number; next: string | null }

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const COUNTS = ['requests', 'units', 'rejected_quota', 'rejected_auth', 'rejected_forbidden', 'would_reject', 'status_1xx', 'status_2xx', 'status_3xx', 'status_4xx', 'status_5xx'] as const;
const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
const subsets = (): ExportDimension[][] => Array.from({ length: 16 }, (_, m) => DIMENSIONS.filter((_d, i) => (m & (1 << i)) !== 0));

describe('GET /v1/usage/export over real HTTP', () => {
  let t: TestApp;
  let base: string;
  /** keyId → [consumer, plan] at the time its batches were sent. */
  const keyOwner = new Map<string, [string, string]>();
  /** The accepted entries of the distinct batches: what every export must add up to. */
  const accepted: Entry[] = [];
  let oldest = Infinity;
  let newest = 0;

  const get = (path: string, token = ADMIN): Promise<Response> => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const exportNdjson = async (query: string): Promise<{ rows: Row[]; trailer: Trailer }> => {
    const res = await get(`/v1/usage/export?format=ndjson&${query}`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    const lines = text.split('\n');
    assert.equal(lines.pop(), '', 'newline-terminated');
    const parsed = lines.map((l) => JSON.parse(l) as Row | Trailer);
    const trailer = parsed.pop() as Trailer;
    assert.equal(trailer.end, true, 'the last line is the trailer');
    assert.equal(trailer.rows, parsed.length);
    return { rows: parsed as Row[], trailer };
  };

  before(async () => {
    t = await testApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const admin = <T>(method: 'POST', path: string, body: unknown): Promise<T> => adminOk<T>(t, method, path, body);
    const apis = [
      (await admin<{ id: string }>('POST', '/v1/apis', { name: 'orders', pathPrefix: '/orders' })).id,
      (await admin<{ id: string }>('POST', '/v1/apis', { name: 'billing', pathPrefix: '/billing' })).id,
    ];
    const plans = [
      (await admin<{ id: string }>('POST', '/v1/plans', { name: 'gold', limits: [{ requests: 1_000_000, per: 'day' }], apiIds: apis })).id,
      (await admin<{ id: string }>('POST', '/v1/plans', { name: 'free', limits: [{ requests: 1_000_000, per: 'day' }], apiIds: apis })).id,
    ];
    const consumers: string[] = [];
    for (const name of ['acme', 'globex', 'initech']) consumers.push((await admin<{ id: string }>('POST', '/v1/consumers', { name })).id);
    const keys: string[] = [];
    // acme on both plans (two keys), the others on one each.
    for (const [c, p] of [[0, 0], [0, 1], [1, 0], [2, 1]] as const) {
      const k = await admin<{ id: string }>('POST', `/v1/consumers/${consumers[c]}/keys`, { planId: plans[p] });
      keys.push(k.id);
      keyOwner.set(k.id, [consumers[c]!, plans[p]!]);
    }

    const random = rng(15);
    const now = currentMinute();
    for (let b = 0; b < 36; b++) {
      // Up to three days back, so hours, days and (near a month's start) months differ.
      const entries = randomEntries(random, { keys, apis, operations: ['', 'getOrder', 'listOrders'], status: true, minute: () => now - 60 * Math.floor(random() * 3 * 24 * 60) });
      // Refused, never counted: an unknown key, and a minute older than a report may be.
      const refused: Entry[] = [
        { minute: now, keyId: 'no-such-key', apiId: apis[0]!, outcome: 'allowed', count: 7 },
        { minute: now - MAX_REPORT_AGE_S - 3600, keyId: keys[0]!, apiId: apis[0]!, outcome: 'allowed', count: 9 },
      ];
      // Sent once, retried in sequence, or raced by concurrent copies: stored once whatever the path.
      await sendBatch(base, REPORT, [...entries, ...(b % 5 === 0 ? refused : [])], b % 3 === 0 ? 1 : b % 3 === 1 ? 2 : 3, b % 3 === 2);
      accepted.push(...entries);
      for (const e of entries) { oldest = Math.min(oldest, e.minute); newest = Math.max(newest, e.minute); }
      // On PostgreSQL: some batches folded, some still in the log when the export reads.
      if (b === 20) await t.app.usage.rollup();
    }
  });
  after(async () => t?.close());

  /** What the export must say: the accepted entries summed per period and group (keys joined by \0). */
  const expected = (g: ExportGranularity, groupBy: readonly ExportDimension[]): Map<string, Record<string, number>> => {
    const out = new Map<string, Record<string, number>>();
    for (const e of accepted) {
      const [consumer, plan] = e.keyId === '' ? ['', ''] : keyOwner.get(e.keyId)!;
      const dims: Record<ExportDimension, string> = { consumer, plan, api: e.apiId, operation: e.operationId ?? '' };
      const id = [iso(periodStart(g, e.minute)), ...groupBy.map((d) => dims[d])].join('\0');
      const c = out.get(id) ?? Object.fromEntries(COUNTS.map((k) => [k, 0]));
      const allowed = e.outcome === 'allowed';
      c.requests! += allowed ? e.count : 0;
      c.units! += allowed ? e.units ?? e.count : 0;
      if (!allowed) c[e.outcome]! += e.count;
      c.would_reject! += e.wouldReject ?? 0;
      for (const s of ['1xx', '2xx', '3xx', '4xx', '5xx']) c[`status_${s}`]! += e.status?.[s] ?? 0;
      out.set(id, c);
    }
    return out;
  };
  const columnsOf = (groupBy: readonly ExportDimension[]): string[] => groupBy.map((d) => ({ consumer: 'consumer_id', plan: 'plan_id', api: 'api_id', operation: 'operation_id' })[d]);
  const range = (g: ExportGranularity): string => `from=${iso(periodStart(g, oldest))}&to=${iso(periodEnd(g, periodStart(g, newest)))}`;

  it('totals equal the distinct batches for every groupBy combination and granularity', async () => {
    for (const g of ['hour', 'day', 'month'] as const) {
      for (const groupBy of subsets()) {
        const { rows, trailer } = await exportNdjson(`${range(g)}&granularity=${g}&groupBy=${groupBy.join(',')}`);
        assert.equal(trailer.next, null);
        const got = new Map<string, Record<string, number>>();
        for (const r of rows) {
          assert.equal(r.period_end, iso(periodEnd(g, Date.parse(r.period_start) / 1000)));
          assert.equal(r.complete, false, 'recent periods are not final');
          assert.deepEqual(Object.keys(r), exportColumns(groupBy), 'the columns, in order');
          const id = [r.period_start, ...columnsOf(groupBy).map((c) => r[c])].join('\0');
          assert.ok(!got.has(id), `one row per period and group (${id})`);
          got.set(id, Object.fromEntries(COUNTS.map((k) => [k, r[k] as number])));
        }
        assert.deepEqual(got, expected(g, groupBy), `${g} by ${groupBy.join(',') || '(nothing)'}`);
      }
    }
  });

  it('rows come in (period, dimensions) bytewise order, the same on every call', async () => {
    const q = `${range('hour')}&granularity=hour&groupBy=operation,api,plan,consumer`;
    const a = await exportNdjson(q);
    const b = await exportNdjson(q);
    assert.deepEqual(a.rows, b.rows);
    const sortKey = (r: Row): string => [r.period_start, r.consumer_id, r.plan_id, r.api_id, r.operation_id].join('\0');
    const keys = a.rows.map(sortKey);
    assert.deepEqual(keys, [...keys].sort((x, y) => (Buffer.compare(Buffer.from(x), Buffer.from(y)))));
    assert.ok(a.rows.length > 50, `enough rows to page (${a.rows.length})`);
  });

  it('a cursor resumes right after its row, at every row; limit pages follow `next` to the same rows', async () => {
    for (const groupBy of [['consumer', 'plan', 'api', 'operation'], ['plan'], []] as ExportDimension[][]) {
      const q = `${range('hour')}&granularity=hour&groupBy=${groupBy.join(',')}`;
      const all = (await exportNdjson(q)).rows;
      for (let i = 0; i < all.length; i++) {
        const page = await exportNdjson(`${q}&cursor=${all[i]!.cursor}&limit=2`);
        assert.deepEqual(page.rows, all.slice(i + 1, i + 3), `after row ${i}`);
        assert.equal(page.trailer.next, i + 3 < all.length ? page.rows[1]!.cursor : null, `next after row ${i}`);
      }
      const paged: Row[] = [];
      let cursor: string | null = null;
      for (let n = 0; n < 1000; n++) {
        const page: { rows: Row[]; trailer: Trailer } = await exportNdjson(`${q}&limit=5${cursor === null ? '' : `&cursor=${cursor}`}`);
        paged.push(...page.rows);
        cursor = page.trailer.next;
        if (cursor === null) break;
      }
      assert.deepEqual(paged, all);
    }
  });

  it('the store is read in keyset pages: any page size gives the same rows', async () => {
    const from = periodStart('day', oldest);
    const to = periodEnd('day', periodStart('day', newest));
    const groupBy: ExportDimension[] = ['consumer', 'api', 'operation'];
    const walk = async (pageRows: number): Promise<unknown[]> => {
      const out: unknown[] = [];
      for await (const page of exportRecords(t.app.store.usage, { from, to, granularity: 'day', groupBy, after: null, now: from }, pageRows)) out.push(...page);
      return out;
    };
    const big = await walk(1000);
    assert.ok(big.length > 10);
    assert.deepEqual(await walk(1), big);
    assert.deepEqual(await walk(3), big);
  });

  it('CSV: a header row, CRLF records, and the same rows as NDJSON', async () => {
    const q = `${range('day')}&granularity=day&groupBy=consumer,operation`;
    const res = await get(`/v1/usage/export?${q}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv; charset=utf-8; header=present/);
    const text = await res.text();
    assert.ok(text.endsWith('\r\n'));
    const [header, ...records] = parseCsv(text);
    assert.deepEqual(header, exportColumns(['consumer', 'operation']));
    const { rows } = await exportNdjson(q);
    assert.deepEqual(records, rows.map((r) => header!.map((c) => String(r[c]))));
  });

  it('an empty range: a header only (CSV), no rows and no next (NDJSON)', async () => {
    const q = 'from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z&granularity=month&groupBy=consumer';
    assert.equal(await (await get(`/v1/usage/export?${q}`)).text(), csvLine(exportColumns(['consumer'])));
    assert.deepEqual(await exportNdjson(q), { rows: [], trailer: { end: true, rows: 0, next: null } });
  });

  it('bad parameters: problem+json 400 naming the parameter; no token: 401', async () => {
    const day = iso(periodStart('day', newest));
    const next = iso(periodEnd('day', periodStart('day', newest)));
    const hourCursor = (await exportNdjson(`${range('hour')}&granularity=hour&groupBy=consumer&limit=1`)).rows[0]!.cursor;
    const cases: [string, RegExp][] = [
      [`from=${day.replace('T00', 'T01')}&to=${next}&granularity=day`, /from: not at the start of a UTC day/],
      [`from=${day}&to=${next.replace(':00Z', ':30Z')}&granularity=day`, /to: not at the start of a UTC day/],
      [`from=${day}&to=${next}&granularity=month`, /not at the start of a UTC month/],
      [`from=${next}&to=${day}&granularity=day`, /from: must be before to/],
      [`from=${day}&to=${day}&granularity=day`, /from: must be before to/],
      [`from=${day}&to=${next}&groupBy=consumer,key`, /unknown dimension 'key'/],
      [`from=${day}&to=${next}&groupBy=api,api`, /named twice/],
      [`from=${day}&to=${next}&format=xml`, /format/],
      [`from=${day}&to=${next}&granularity=week`, /granularity/],
      [`from=${day}&to=${next}&limit=0`, /limit/],
      [`to=${next}`, /from/],
      [`from=yesterday&to=${next}`, /from/],
      [`from=${day}&to=${next}&cursor=not!base64`, /cursor/],
      [`from=${day}&to=${next}&granularity=hour&groupBy=consumer&cursor=${Buffer.from('{"v":1}').toString('base64url')}`, /cursor: not a cursor of this export/],
      [`${range('hour')}&granularity=hour&groupBy=plan&cursor=${hourCursor}`, /another granularity or groupBy/],
      [`from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z&granularity=hour&groupBy=consumer&cursor=${hourCursor}`, /cursor: outside \[from, to\)/],
      [`from=${day}&to=${next}&color=blue`, /color|additional/],
    ];
    for (const [query, detail] of cases) {
      const res = await get(`/v1/usage/export?${query}`);
      const body = await res.text();
      assert.equal(res.status, 400, `${query}: ${body}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.match(JSON.parse(body).detail as string, detail, query);
    }
    assert.equal((await fetch(`${base}/v1/usage/export?${range('day')}`)).status, 401);
    assert.equal((await get(`/v1/usage/export?${range('day')}`, REPORT)).status, 401, 'a reporter credential is not an admin token');
  });

  it('the OpenAPI document lists the export with its parameters', async () => {
    const doc = await (await get('/openapi.json')).json() as { paths: Record<string, { get?: { parameters?: { name: string }[] } }> };
    const names = doc.paths['/v1/usage/export']?.get?.parameters?.map((p) => p.name) ?? [];
    for (const p of ['from', 'to', 'granularity', 'groupBy', 'format', 'cursor', 'limit']) assert.ok(names.includes(p), `${p} in ${names.join(',')}`);
  });
});
