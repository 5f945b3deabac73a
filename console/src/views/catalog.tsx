// APIs, plans and consumers: read-only lists (creating and editing them is the REST API's and `tollgate import`'s job).
import type { Catalog } from '../catalog';

const limitText = (l: { requests: number; per: string; apiId?: string; operationId?: string; shadow?: boolean }, apiName: (id: string) => string): string =>
  `${l.requests.toLocaleString()}/${l.per}${l.apiId !== undefined ? ` on ${apiName(l.apiId)}${l.operationId !== undefined ? ` ${l.operationId}` : ''}` : ''}${l.shadow === true ? ' (shadow)' : ''}`;

export function CatalogView({ catalog, onReload }: { catalog: Catalog; onReload: () => void }) {
  const apiName = (id: string) => catalog.apis.find((a) => a.id === id)?.name ?? id;
  return (
    <section aria-labelledby="catalog-title">
      <div class="row spread">
        <h1 id="catalog-title">APIs, plans and consumers</h1>
        <button type="button" onClick={onReload}>Reload</button>
      </div>
      <h2 id="apis-title">APIs ({catalog.apis.length})</h2>
      <div class="table-wrap">
        <table id="apis" aria-labelledby="apis-title">
          <thead><tr><th scope="col">name</th><th scope="col">id</th><th scope="col">path prefix</th><th scope="col">hosts</th><th scope="col">methods</th><th scope="col" class="num">operations</th></tr></thead>
          <tbody>{catalog.apis.map((a) => (
            <tr key={a.id}><th scope="row">{a.name}</th><td class="mono">{a.id}</td><td class="mono">{a.pathPrefix}</td>
              <td>{a.hosts.length === 0 ? 'any' : a.hosts.join(', ')}</td><td>{a.methods.length === 0 ? 'any' : a.methods.join(', ')}</td><td class="num">{a.operationCount}</td></tr>
          ))}</tbody>
        </table>
      </div>
      <h2 id="plans-title">Plans ({catalog.plans.length})</h2>
      <div class="table-wrap">
        <table id="plans" aria-labelledby="plans-title">
          <thead><tr><th scope="col">name</th><th scope="col">id</th><th scope="col">limits</th><th scope="col">APIs</th></tr></thead>
          <tbody>{catalog.plans.map((p) => (
            <tr key={p.id}><th scope="row">{p.name}{p.shadow ? ' (shadow)' : ''}</th><td class="mono">{p.id}</td>
              <td>{p.limits.length === 0 ? 'unlimited' : p.limits.map((l) => limitText(l, apiName)).join('; ')}</td><td>{p.apiIds.map(apiName).join(', ')}</td></tr>
          ))}</tbody>
        </table>
      </div>
      <h2 id="consumers-title">Consumers ({catalog.consumers.length})</h2>
      <div class="table-wrap">
        <table id="consumers" aria-labelledby="consumers-title">
          <thead><tr><th scope="col">name</th><th scope="col">id</th><th scope="col">created</th></tr></thead>
          <tbody>{catalog.consumers.map((c) => (
            <tr key={c.id}><th scope="row">{c.name}</th><td class="mono">{c.id}</td><td>{c.createdAt}</td></tr>
          ))}</tbody>
        </table>
      </div>
    </section>
  );
}
