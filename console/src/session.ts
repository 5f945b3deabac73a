// The admin token lives in this tab's sessionStorage only: gone when the tab closes, never in localStorage, a cookie
// or the URL (docs/console.md). Storage can be unavailable (privacy modes): then it lives in memory only.
const KEY = 'tollgate.adminToken';
let memory: string | undefined;

export function loadToken(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? memory;
  } catch {
    return memory;
  }
}

export function saveToken(token: string): void {
  memory = token;
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // memory only
  }
}

export function clearToken(): void {
  memory = undefined;
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}
