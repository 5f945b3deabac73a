// Keys of one consumer: create (the plaintext shown once), revoke, rotate with a grace period. Every change is
// announced in the page's live region; the key list is re-read from the service after each change.
import { useEffect, useState } from 'preact/hooks';
import { allPages, type Api } from '../api';
import type { Catalog } from '../catalog';
import type { KeyCreated, KeyView } from '../types';
import { Dialog } from './dialog';
import { KeyOnceDialog } from './key-once';

type Pending = { kind: 'revoke'; key: KeyView } | { kind: 'rotate'; key: KeyView };

export function KeysView({ api, catalog, announce }: { api: Api; catalog: Catalog; announce: (m: string) => void }) {
  const [consumerId, setConsumerId] = useState(catalog.consumers[0]?.id ?? '');
  const [planId, setPlanId] = useState(catalog.plans[0]?.id ?? '');
  const [keys, setKeys] = useState<KeyView[] | undefined>(undefined);
  const [generation, setGeneration] = useState(0);
  const [created, setCreated] = useState<{ key: KeyCreated; heading: string } | undefined>(undefined);
  const [pending, setPending] = useState<Pending | undefined>(undefined);
  const [grace, setGrace] = useState('3600');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const planName = (id: string) => catalog.plans.find((p) => p.id === id)?.name ?? id;

  useEffect(() => {
    setKeys(undefined);
    if (consumerId === '') return;
    let live = true;
    allPages<KeyView>(api, `/v1/consumers/${encodeURIComponent(consumerId)}/keys`)
      .then((k) => { if (live) setKeys(k.sort((a, b) => b.createdAt.localeCompare(a.createdAt))); })
      .catch((err: Error) => { if (live) setError(err.message); });
    return () => { live = false; };
  }, [api, consumerId, generation]);

  const run = async (what: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await what();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
      setGeneration((g) => g + 1);
    }
  };

  const create = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const key = await api<KeyCreated>('POST', `/v1/consumers/${encodeURIComponent(consumerId)}/keys`, { planId });
      setCreated({ key, heading: 'New API key' });
      announce(`Key ${key.prefix} created.`);
    });
  };
  const revoke = (key: KeyView) => run(async () => {
    await api<KeyView>('POST', `/v1/keys/${encodeURIComponent(key.id)}/revoke`);
    announce(`Key ${key.prefix} revoked.`);
  });
  const rotate = (key: KeyView, seconds: number) => run(async () => {
    const successor = await api<KeyCreated>('POST', `/v1/keys/${encodeURIComponent(key.id)}/rotate`, { gracePeriodSeconds: seconds });
    setCreated({ key: successor, heading: 'Rotated: the new API key' });
    announce(`Key ${key.prefix} rotated; its successor is ${successor.prefix}.`);
  });
  const graceSeconds = Number(grace);
  const graceValid = /^\d+$/.test(grace) && graceSeconds <= 30 * 86_400;

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">Keys</h1>
      <form class="filters" onSubmit={create}>
        <div class="field">
          <label for="keys-consumer">Consumer</label>
          <select id="keys-consumer" value={consumerId} onChange={(e) => setConsumerId(e.currentTarget.value)}>
            {catalog.consumers.length === 0 && <option value="">no consumers</option>}
            {catalog.consumers.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="keys-plan">Plan for a new key</label>
          <select id="keys-plan" value={planId} onChange={(e) => setPlanId(e.currentTarget.value)}>
            {catalog.plans.length === 0 && <option value="">no plans</option>}
            {catalog.plans.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
          </select>
        </div>
        <div class="field">
          <button type="submit" class="primary" disabled={busy || consumerId === '' || planId === ''}>Create key</button>
        </div>
      </form>
      {error !== undefined && <p role="alert" class="error">{error}</p>}
      <div class="table-wrap">
        <table id="keys" class="stack">
          <caption>Keys of {catalog.consumers.find((c) => c.id === consumerId)?.name ?? '—'}</caption>
          <thead><tr><th scope="col">prefix</th><th scope="col">id</th><th scope="col">plan</th><th scope="col">status</th><th scope="col">created</th><th scope="col">expires</th><th scope="col">actions</th></tr></thead>
          <tbody>
            {keys === undefined ? <tr><td colSpan={7}>{consumerId === '' ? 'Choose a consumer.' : 'Loading…'}</td></tr>
              : keys.length === 0 ? <tr><td colSpan={7}>No keys yet.</td></tr>
                : keys.map((k) => (
                  <tr key={k.id} data-key-id={k.id} data-status={k.status}>
                    <th scope="row" class="mono" data-label="prefix">{k.prefix}…</th><td class="mono" data-label="id">{k.id}</td><td data-label="plan">{planName(k.planId)}</td>
                    <td data-label="status"><span class={`badge ${k.status}`}>{k.status}</span></td><td data-label="created">{k.createdAt}</td><td data-label="expires">{k.expiresAt ?? '—'}</td>
                    <td class="actions" data-label="actions">
                      {(k.status === 'active') && (
                        <button type="button" disabled={busy} aria-label={`Rotate key ${k.prefix}`} onClick={() => setPending({ kind: 'rotate', key: k })}>Rotate</button>
                      )}
                      {(k.status === 'active' || k.status === 'rotating') && (
                        <button type="button" class="danger" disabled={busy} aria-label={`Revoke key ${k.prefix}`} onClick={() => setPending({ kind: 'revoke', key: k })}>Revoke</button>
                      )}
                    </td>
                  </tr>
                ))}
          </tbody>
        </table>
      </div>
      {pending?.kind === 'revoke' && (
        <Dialog id="revoke" title={`Revoke key ${pending.key.prefix}…?`} onClose={() => setPending(undefined)} alert>
          <p>Requests with this key are refused (401) everywhere within seconds. This cannot be undone.</p>
          <div class="actions">
            <button type="button" autofocus onClick={() => setPending(undefined)}>Cancel</button>
            <button type="button" class="danger" onClick={() => { const k = pending.key; setPending(undefined); void revoke(k); }}>Revoke</button>
          </div>
        </Dialog>
      )}
      {pending?.kind === 'rotate' && (
        <Dialog id="rotate" title={`Rotate key ${pending.key.prefix}…`} onClose={() => setPending(undefined)}>
          <form onSubmit={(e) => { e.preventDefault(); if (!graceValid) return; const k = pending.key; setPending(undefined); void rotate(k, graceSeconds); }}>
            <p>A new key replaces this one; the old key keeps working for the grace period, then stops.</p>
            <label for="rotate-grace">Grace period (seconds, 0 to 2,592,000)</label>
            <input id="rotate-grace" type="number" min={0} max={2_592_000} step={1} required value={grace} autofocus
              aria-invalid={!graceValid} aria-describedby="rotate-grace-error" onInput={(e) => setGrace(e.currentTarget.value)} />
            <p id="rotate-grace-error" class="error" aria-live="polite">{graceValid ? '' : 'Enter whole seconds from 0 to 2,592,000 (30 days).'}</p>
            <div class="actions">
              <button type="button" onClick={() => setPending(undefined)}>Cancel</button>
              <button type="submit" class="primary" disabled={!graceValid}>Rotate</button>
            </div>
          </form>
        </Dialog>
      )}
      {created !== undefined && <KeyOnceDialog created={created.key} heading={created.heading} onClose={() => setCreated(undefined)} />}
    </section>
  );
}
