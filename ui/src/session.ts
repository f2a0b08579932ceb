/**
 * The session token. It arrives only in the URL fragment (`#token=…`, never sent
 * to any server), is removed from the address bar at once, and then lives in
 * memory and this tab's sessionStorage (so a reload keeps working). It is sent
 * only as `Authorization: Bearer` to this page's own origin.
 */
const STORAGE_KEY = 'closedpaw.ui.token';

function captureToken(): string | null {
  let fromHash: string | null = null;
  if (location.hash.length > 1) {
    fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
    // Drop the fragment (and anything else after the path) from the URL and history entry.
    history.replaceState(null, '', location.pathname);
  }
  try {
    if (fromHash) sessionStorage.setItem(STORAGE_KEY, fromHash);
    return fromHash ?? sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return fromHash;
  }
}

// Runs when this module is first imported: before React renders anything.
let token: string | null = captureToken();

export const hasToken = (): boolean => token !== null && token !== '';

export function authHeader(): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Forget a token the server refused. */
export function forgetToken(): void {
  token = null;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage unavailable: memory only
  }
}
