// Log in with the admin token. It is checked against an admin route before it is kept (sessionStorage only).
import { useState } from 'preact/hooks';
import { apiClient, ApiError } from '../api';

export function Login({ onLogin, notice }: { onLogin: (token: string) => void; notice: string | undefined }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (t === '') { setError('Enter the admin token.'); return; }
    setBusy(true);
    setError(undefined);
    try {
      await apiClient(t, () => {})('GET', '/v1/consumers?limit=1');
      onLogin(t);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token was not accepted (401).' : `Login failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <h1>tollgate console</h1>
      <form onSubmit={submit} aria-describedby="login-hint">
        <label for="admin-token">Admin token</label>
        <input id="admin-token" name="admin-token" type="password" autoComplete="off" autofocus required value={token}
          aria-invalid={error !== undefined} aria-describedby="login-error" onInput={(e) => setToken(e.currentTarget.value)} />
        <p id="login-hint" class="muted">Kept in this tab's session storage only; logging out or closing the tab forgets it.</p>
        <button type="submit" class="primary" disabled={busy}>Log in</button>
        <p id="login-error" role="alert" class="error">{error ?? notice ?? ''}</p>
      </form>
    </main>
  );
}
