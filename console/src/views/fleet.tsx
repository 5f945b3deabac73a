// Fleet convergence: per target, how many proxies run the current configuration; per proxy, its state, version,
// key-feed lag and troubles. Reads GET /v1/fleet where the service has it, else the distribution acks.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api';
import { convergenceRows, fleetRows } from '../fleet';
import type { DistributionView, FleetView as Fleet } from '../types';

const REFRESH_MS = 5000;

export function FleetView({ api }: { api: Api }) {
  const [dist, setDist] = useState<DistributionView | undefined>(undefined);
  const [fleet, setFleet] = useState<Fleet | undefined>(undefined);
  const [fleetMissing, setFleetMissing] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    let live = true;
    api<DistributionView>('GET', '/v1/distribution').then((d) => { if (live) { setDist(d); setError(undefined); } })
      .catch((err: Error) => { if (live) setError(err.message); });
    // 404: a control service from before the fleet endpoint; fall back to the acks, and say so.
    api<Fleet>('GET', '/v1/fleet').then((fl) => { if (live) { setFleet(fl); setFleetMissing(false); } })
      .catch((err: Error) => { if (live && err instanceof ApiError && err.status === 404) { setFleet(undefined); setFleetMissing(true); } });
    return () => { live = false; };
  }, [api, tick]);

  const rows = fleetRows(fleet, dist);
  const convergence = convergenceRows(dist, rows);
  return (
    <section aria-labelledby="fleet-title">
      <h1 id="fleet-title">Fleet</h1>
      {error !== undefined && <p role="alert" class="error">The fleet could not be read: {error}</p>}
      <p class="muted">
        Current configuration: <span class="mono">{dist?.version ?? '—'}</span>
        {dist !== undefined && <> ({dist.keys.toLocaleString()} keys, {dist.configBytes.toLocaleString()} bytes, compiled {dist.compiledAt ?? '—'})</>}
      </p>
      {fleetMissing && <p class="muted">This control service has no fleet endpoint: proxies are shown from their configuration acknowledgements.</p>}
      <h2 id="convergence-title">Convergence</h2>
      <div class="table-wrap">
        <table id="fleet-convergence" aria-labelledby="convergence-title">
          <thead><tr><th scope="col">target</th><th scope="col">version</th><th scope="col" class="num">proxies</th><th scope="col" class="num">current</th><th scope="col" class="num">behind</th><th scope="col" class="num">stale</th><th scope="col">oldest laggard</th></tr></thead>
          <tbody>
            {convergence.length === 0 ? <tr><td colSpan={7}>No proxy has reported yet.</td></tr> : convergence.map((c) => (
              <tr key={c.target} data-target={c.target}>
                <th scope="row">{c.target}</th><td class="mono">{c.version ?? '—'}</td><td class="num">{c.proxies}</td>
                <td class="num" data-current={c.current}>{c.current}</td><td class="num">{c.behind}</td><td class="num">{c.stale}</td><td>{c.oldestLaggard ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2 id="proxies-title">Proxies</h2>
      <div class="table-wrap">
        <table id="fleet-proxies" class="stack" aria-labelledby="proxies-title">
          <thead><tr><th scope="col">proxy</th><th scope="col">target</th><th scope="col">state</th><th scope="col">config version</th><th scope="col" class="num">feed lag</th><th scope="col" class="num">keys</th><th scope="col">last seen</th><th scope="col">problems</th></tr></thead>
          <tbody>
            {rows.length === 0 ? <tr><td colSpan={8}>No proxy has reported yet.</td></tr> : rows.map((r) => (
              <tr key={`${r.target}/${r.node}`} data-state={r.state}>
                <th scope="row" class="mono" data-label="proxy">{r.node}</th><td data-label="target">{r.target}</td><td data-label="state"><span class={`badge ${r.state}`}>{r.state}</span></td>
                <td class="mono" data-label="config version">{r.configVersion ?? '—'}</td><td class="num" data-label="feed lag">{r.feedLag ?? '—'}</td><td class="num" data-label="keys">{r.keys ?? '—'}</td>
                <td data-label="last seen">{r.lastSeen ?? '—'}</td><td data-label="problems">{r.problems === '' ? '—' : r.problems}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
