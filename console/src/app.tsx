// The console's shell: login gate, navigation (hash routes, so the server serves one page), the live region that
// announces results, and the views.
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { apiClient, openApi } from './api';
import { capabilitiesOf, NO_CAPABILITIES, type Capabilities } from './capabilities';
import { useCatalog } from './catalog';
import { clearToken, loadToken, saveToken } from './session';
import { CatalogView } from './views/catalog';
import { FleetView } from './views/fleet';
import { KeysView } from './views/keys';
import { Login } from './views/login';
import { UsageView } from './views/usage';

const ROUTES = [
  { id: 'usage', label: 'Usage' },
  { id: 'keys', label: 'Keys' },
  { id: 'catalog', label: 'APIs, plans, consumers' },
  { id: 'fleet', label: 'Fleet' },
] as const;
type Route = (typeof ROUTES)[number]['id'];

const routeOf = (hash: string): Route => (ROUTES.find((r) => `#/${r.id}` === hash)?.id ?? 'usage');

export function App() {
  const [token, setToken] = useState<string | undefined>(loadToken());
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const logout = useCallback((why?: string) => {
    clearToken();
    setToken(undefined);
    setNotice(why);
  }, []);
  if (token === undefined) return <Login notice={notice} onLogin={(t) => { saveToken(t); setNotice(undefined); setToken(t); }} />;
  return <Console token={token} onLogout={logout} />;
}

function Console({ token, onLogout }: { token: string; onLogout: (why?: string) => void }) {
  const api = useMemo(() => apiClient(token, () => onLogout('The service no longer accepts this token (401): log in again.')), [token, onLogout]);
  const [route, setRoute] = useState<Route>(routeOf(location.hash));
  const [capabilities, setCapabilities] = useState<Capabilities>(NO_CAPABILITIES);
  const [announcement, setAnnouncement] = useState('');
  const { catalog, error, reload } = useCatalog(api);

  useEffect(() => {
    const onHash = () => setRoute(routeOf(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => { openApi().then((doc) => setCapabilities(capabilitiesOf(doc))).catch(() => {}); }, []);
  useEffect(() => { document.title = `${ROUTES.find((r) => r.id === route)?.label ?? ''} · tollgate console`; }, [route]);
  const announce = useCallback((m: string) => { setAnnouncement(m); reload(); }, [reload]);

  return (
    <>
      {/* Not a plain #main link: the hash is the route. */}
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header class="top">
        <span class="brand">tollgate</span>
        <nav aria-label="Views">
          <ul>
            {ROUTES.map((r) => (
              <li key={r.id}><a href={`#/${r.id}`} aria-current={route === r.id ? 'page' : undefined}>{r.label}</a></li>
            ))}
          </ul>
        </nav>
        <button type="button" class="logout" onClick={() => onLogout()}>Log out</button>
      </header>
      <p id="announcer" role="status" aria-live="polite" class="announcer">{announcement}</p>
      <main id="main" tabIndex={-1}>
        {error !== undefined && <p role="alert" class="error">The catalogue could not be read: {error}</p>}
        {catalog === undefined ? <p>Loading…</p>
          : route === 'usage' ? <UsageView api={api} catalog={catalog} capabilities={capabilities} />
            : route === 'keys' ? <KeysView api={api} catalog={catalog} announce={announce} />
              : route === 'catalog' ? <CatalogView catalog={catalog} onReload={reload} />
                : <FleetView api={api} />}
      </main>
    </>
  );
}
