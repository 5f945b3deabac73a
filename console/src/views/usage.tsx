// Usage over time: filters (API, consumer, key, operation where the service offers it, range, granularity), two
// charts (outcomes; upstream status classes), the totals as a table (the charts' text alternative, and what tests
// read), and the top consumers of the range. Auto-refresh re-reads every few seconds, after the filters' flushes land.
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Api } from '../api';
import { allPages } from '../api';
import type { Capabilities } from '../capabilities';
import { mapLimited, type Catalog } from '../catalog';
import { hourAligned, operationBreakdown, type OperationUsage } from '../operations';
import { rankConsumers, topConsumerRows, type ConsumerRank } from '../top-consumers';
import type { KeyView, UsageTopView, UsageView as Usage } from '../types';
import { chartColumns, EMPTY_USAGE, OUTCOME_SERIES, RANGES, STATUS_SERIES, type Granularity, type SeriesDef } from '../usage-series';
import { UsageChart } from './usage-chart';

const REFRESH_MS = 5000;
/** Rows of the top-consumers table. */
const TOP_CONSUMERS = 10;
/** Against a service without GET /v1/usage/top: one usage query per consumer, beyond this many it says so instead. */
const TOP_CONSUMERS_SCAN = 200;
/** Export rows read for the per-operation table (hours × API × operation [× consumer]). */
const EXPORT_ROWS = 20_000;

interface Filters { apiId: string; consumerId: string; keyId: string; operationId: string; range: string; granularity: Granularity }

function usagePath(f: Filters, from: number, to: number, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ granularity: f.granularity, from: new Date(from * 1000).toISOString(), to: new Date(to * 1000).toISOString() });
  if (f.apiId !== '') q.set('apiId', f.apiId);
  if (f.consumerId !== '') q.set('consumerId', f.consumerId);
  if (f.keyId !== '') q.set('keyId', f.keyId);
  if (f.operationId !== '') q.set('operationId', f.operationId);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return `/v1/usage?${q.toString()}`;
}

const summaryOf = (defs: SeriesDef[], view: Usage): string => defs.map((d) => `${d.label} ${d.total(view)}`).join(', ');

export function UsageView({ api, catalog, capabilities }: { api: Api; catalog: Catalog; capabilities: Capabilities }) {
  const [f, setF] = useState<Filters>({ apiId: '', consumerId: '', keyId: '', operationId: '', range: '1h', granularity: 'minute' });
  const [auto, setAuto] = useState(true);
  const [tick, setTick] = useState(0);
  const [keys, setKeys] = useState<KeyView[]>([]);
  const [operations, setOperations] = useState<{ id: string; label: string }[]>([]);
  const [data, setData] = useState<{ view: Usage; from: number; to: number; at: Date } | undefined>(undefined);
  const [top, setTop] = useState<{ rows: ConsumerRank[]; note: string } | { error: string } | undefined>(undefined);
  const [byOperation, setByOperation] = useState<{ rows: OperationUsage[]; from: number; to: number } | { error: string } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const set = (patch: Partial<Filters>) => setF((old) => ({ ...old, ...patch }));

  useEffect(() => {
    if (!auto) return;
    const timer = setInterval(() => setTick((t) => t + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, [auto]);

  // The key list follows the chosen consumer.
  useEffect(() => {
    setKeys([]);
    if (f.consumerId === '') return;
    let live = true;
    allPages<KeyView>(api, `/v1/consumers/${encodeURIComponent(f.consumerId)}/keys`).then((k) => { if (live) setKeys(k); }).catch(() => {});
    return () => { live = false; };
  }, [api, f.consumerId]);

  useEffect(() => {
    setOperations([]);
    if ((!capabilities.usageByOperation && !capabilities.exportByOperation) || f.apiId === '') return;
    let live = true;
    allPages<{ id: string; method: string; path: string; operationId: string | null }>(api, `/v1/apis/${encodeURIComponent(f.apiId)}/operations`)
      .then((ops) => { if (live) setOperations(ops.map((o) => ({ id: o.id, label: o.operationId ?? `${o.method} ${o.path}` }))); })
      .catch(() => {});
    return () => { live = false; };
  }, [api, f.apiId, capabilities.usageByOperation, capabilities.exportByOperation]);

  useEffect(() => {
    let live = true;
    const range = RANGES.find((r) => r.id === f.range) ?? RANGES[1]!;
    const to = Math.floor(Date.now() / 1000) + 1;
    const from = to - range.seconds;
    api<Usage>('GET', usagePath(f, from, to))
      .then((view) => { if (live) { setData({ view, from, to, at: new Date() }); setError(undefined); } })
      .catch((err: Error) => { if (live) setError(err.message); });
    // Top consumers: the same range and API filter, ranked by the service (whole UTC hours), or, against an older
    // service, one usage query per consumer.
    if (capabilities.usageTop) {
      const q = new URLSearchParams({ by: 'consumer', from: new Date(from * 1000).toISOString(), to: new Date(to * 1000).toISOString(), limit: String(TOP_CONSUMERS) });
      if (f.apiId !== '') q.set('apiId', f.apiId);
      api<UsageTopView>('GET', `/v1/usage/top?${q.toString()}`)
        .then((view) => {
          if (!live) return;
          const hhmm = (t: string) => t.slice(11, 16);
          setTop({ rows: topConsumerRows(view, catalog.consumers, TOP_CONSUMERS), note: `Whole UTC hours (${hhmm(view.from)} … ${hhmm(view.to)}); the operation and key filters do not apply here.` });
        })
        .catch((err: Error) => { if (live) setTop({ error: err.message }); });
    } else {
      const scan = catalog.consumers.slice(0, TOP_CONSUMERS_SCAN);
      const byConsumer = { ...f, consumerId: '', keyId: '' };
      mapLimited(scan, 4, async (consumer) => ({ consumer, usage: await api<Usage>('GET', usagePath(byConsumer, from, to, { consumerId: consumer.id })) }))
        .then((rows) => {
          if (live) setTop({ rows: rankConsumers(rows, TOP_CONSUMERS), note: catalog.consumers.length > scan.length ? `Ranked among the first ${scan.length} of ${catalog.consumers.length} consumers.` : '' });
        })
        .catch((err: Error) => { if (live) setTop({ error: err.message }); });
    }
    // Per operation: the billing export (whole UTC hours), where the service has it; GET /v1/usage has no operations.
    if (capabilities.exportByOperation) {
      const h = hourAligned(from, to);
      const q = new URLSearchParams({
        from: new Date(h.from * 1000).toISOString(), to: new Date(h.to * 1000).toISOString(), granularity: 'hour',
        groupBy: f.consumerId === '' ? 'api,operation' : 'consumer,api,operation', format: 'ndjson', limit: String(EXPORT_ROWS),
      });
      api<string>('GET', `/v1/usage/export?${q.toString()}`, undefined, 'text')
        .then((text) => { if (live) setByOperation({ rows: operationBreakdown(text, { apiId: f.apiId, consumerId: f.consumerId }), ...h }); })
        .catch((err: Error) => { if (live) setByOperation({ error: err.message }); });
    }
    return () => { live = false; };
  }, [api, f, tick, catalog, capabilities.exportByOperation, capabilities.usageTop]);

  const view = data?.view ?? EMPTY_USAGE;
  const columns = useMemo(() => (data === undefined ? { x: [], outcomes: [], status: [] } : chartColumns(data.view, data.from, data.to, f.granularity)), [data]);
  const consumerName = (id: string) => catalog.consumers.find((c) => c.id === id)?.name ?? id;

  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage</h1>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); setTick((t) => t + 1); }}>
        <div class="field">
          <label for="usage-api">API</label>
          <select id="usage-api" value={f.apiId} onChange={(e) => set({ apiId: e.currentTarget.value, operationId: '' })}>
            <option value="">all APIs</option>
            {catalog.apis.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
          </select>
        </div>
        {capabilities.usageByOperation && (
          <div class="field">
            <label for="usage-operation">Operation</label>
            <select id="usage-operation" value={f.operationId} disabled={f.apiId === ''} onChange={(e) => set({ operationId: e.currentTarget.value })}>
              <option value="">all operations</option>
              {operations.map((o) => <option key={o.id} value={o.id}>{o.label}</option>)}
            </select>
          </div>
        )}
        <div class="field">
          <label for="usage-consumer">Consumer</label>
          <select id="usage-consumer" value={f.consumerId} onChange={(e) => set({ consumerId: e.currentTarget.value, keyId: '' })}>
            <option value="">all consumers</option>
            {catalog.consumers.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="usage-key">Key</label>
          <select id="usage-key" value={f.keyId} disabled={f.consumerId === ''} onChange={(e) => set({ keyId: e.currentTarget.value })}>
            <option value="">{f.consumerId === '' ? 'all keys (choose a consumer)' : 'all keys'}</option>
            {keys.map((k) => <option key={k.id} value={k.id}>{k.prefix}… ({k.status})</option>)}
          </select>
        </div>
        <div class="field">
          <label for="usage-range">Range</label>
          <select id="usage-range" value={f.range} onChange={(e) => {
            const r = RANGES.find((x) => x.id === e.currentTarget.value)!;
            set({ range: r.id, granularity: r.granularity });
          }}>
            {RANGES.map((r) => <option key={r.id} value={r.id}>{r.label}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="usage-granularity">Granularity</label>
          <select id="usage-granularity" value={f.granularity} onChange={(e) => set({ granularity: e.currentTarget.value as Granularity })}>
            <option value="minute">minute</option>
            <option value="hour">hour</option>
            <option value="day">day</option>
          </select>
        </div>
        <div class="field checkbox">
          <input id="usage-auto" type="checkbox" checked={auto} onChange={(e) => setAuto(e.currentTarget.checked)} />
          <label for="usage-auto">Auto refresh (every {REFRESH_MS / 1000} s)</label>
        </div>
        <div class="field">
          <button type="submit">Refresh now</button>
        </div>
      </form>
      {error !== undefined && <p role="alert" class="error">Usage could not be read: {error}</p>}
      <p class="muted" aria-live="polite" id="usage-updated">
        {data === undefined ? 'Loading…' : `Updated ${data.at.toLocaleTimeString()}`}
      </p>
      <div class="charts">
        <UsageChart id="chart-outcomes" title="Requests by outcome" x={columns.x} defs={OUTCOME_SERIES} columns={columns.outcomes} summary={summaryOf(OUTCOME_SERIES, view)} />
        <UsageChart id="chart-status" title="Upstream status of allowed requests" x={columns.x} defs={STATUS_SERIES} columns={columns.status} summary={summaryOf(STATUS_SERIES, view)} />
      </div>
      <div class="table-wrap">
        <table id="usage-totals">
          <caption>Totals for the range{f.consumerId !== '' ? ` (consumer ${consumerName(f.consumerId)})` : ''}</caption>
          <thead><tr><th scope="col">series</th><th scope="col" class="num">requests</th></tr></thead>
          <tbody>
            {[...OUTCOME_SERIES, ...STATUS_SERIES].map((d) => (
              <tr key={d.id} data-series={d.id}>
                <th scope="row"><span class="swatch" style={{ backgroundColor: d.color }} aria-hidden="true" />{d.label}</th>
                <td class="num" data-total={d.total(view)}>{d.total(view).toLocaleString()}</td>
              </tr>
            ))}
            <tr data-series="units"><th scope="row">units spent (allowed)</th><td class="num" data-total={view.totals.units}>{view.totals.units.toLocaleString()}</td></tr>
          </tbody>
        </table>
      </div>
      {capabilities.exportByOperation && (
        <section aria-labelledby="ops-title">
          <h2 id="ops-title">By operation</h2>
          {byOperation !== undefined && 'error' in byOperation ? <p role="alert" class="error">Per-operation usage could not be read: {byOperation.error}</p> : (
            <>
              <p class="muted">
                Whole UTC hours{byOperation !== undefined ? ` (${new Date(byOperation.from * 1000).toISOString().slice(11, 16)} … ${new Date(byOperation.to * 1000).toISOString().slice(11, 16)})` : ''}, from the billing export; the key filter does not apply here.
              </p>
              <div class="table-wrap">
                <table id="by-operation">
                  <caption class="visually-hidden">Usage per API operation in the range</caption>
                  <thead><tr><th scope="col">API</th><th scope="col">operation</th><th scope="col" class="num">allowed</th><th scope="col" class="num">units</th><th scope="col" class="num">denied: quota</th><th scope="col" class="num">denied: key</th><th scope="col" class="num">denied: plan</th><th scope="col" class="num">upstream 5xx</th></tr></thead>
                  <tbody>
                    {byOperation === undefined ? <tr><td colSpan={8}>Loading…</td></tr>
                      : byOperation.rows.length === 0 ? <tr><td colSpan={8}>No traffic in these hours.</td></tr>
                        : byOperation.rows.slice(0, 50).map((o) => (
                          <tr key={`${o.apiId}/${o.operationId}`} data-api={o.apiId} data-operation={o.operationId}>
                            <th scope="row">{catalog.apis.find((a) => a.id === o.apiId)?.name ?? (o.apiId === '' ? '(no API)' : o.apiId)}</th>
                            <td class="mono">{o.operationId === '' ? '(no operation)' : operations.find((x) => x.id === o.operationId)?.label ?? o.operationId}</td>
                            <td class="num" data-allowed={o.requests}>{o.requests.toLocaleString()}</td><td class="num">{o.units.toLocaleString()}</td>
                            <td class="num">{o.rejectedQuota.toLocaleString()}</td><td class="num">{o.rejectedAuth.toLocaleString()}</td>
                            <td class="num">{o.rejectedForbidden.toLocaleString()}</td><td class="num">{o.status5xx.toLocaleString()}</td>
                          </tr>
                        ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </section>
      )}
      <section aria-labelledby="top-title">
        <h2 id="top-title">Top consumers</h2>
        {top !== undefined && 'error' in top && <p role="alert" class="error">Top consumers could not be read: {top.error}</p>}
        {top !== undefined && 'note' in top && top.note !== '' && <p class="muted">{top.note}</p>}
        <div class="table-wrap">
          <table id="top-consumers">
            <caption class="visually-hidden">Consumers with the most requests in the range</caption>
            <thead><tr><th scope="col">consumer</th><th scope="col" class="num">requests</th><th scope="col" class="num">allowed</th><th scope="col" class="num">denied</th><th scope="col" class="num">units</th></tr></thead>
            <tbody>
              {top === undefined ? <tr><td colSpan={5}>Loading…</td></tr>
                : 'error' in top ? <tr><td colSpan={5}>—</td></tr>
                : top.rows.length === 0 ? <tr><td colSpan={5}>No traffic in this range.</td></tr>
                  : top.rows.map((r) => (
                    <tr key={r.id} data-consumer={r.id}>
                      <th scope="row">{r.name}</th>
                      <td class="num" data-requests={r.requests}>{r.requests.toLocaleString()}</td>
                      <td class="num">{r.allowed.toLocaleString()}</td>
                      <td class="num">{r.denied.toLocaleString()}</td>
                      <td class="num">{r.units.toLocaleString()}</td>
                    </tr>
                  ))}
            </tbody>
          </table>
        </div>
      </section>
    </section>
  );
}
