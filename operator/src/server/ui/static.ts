/**
 * Serves the built UI (ui/dist) with an SPA fallback to index.html. Paths are
 * confined to the directory; dotfiles and anything odd are 404.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

export interface StaticFile {
  body: Buffer;
  type: string;
}

async function readInside(root: string, relative: string): Promise<StaticFile | undefined> {
  const full = resolve(root, relative);
  if (full !== root && !full.startsWith(root + sep)) return undefined;
  const type = TYPES[extname(full).toLowerCase()];
  if (!type) return undefined;
  try {
    if (!(await stat(full)).isFile()) return undefined;
    return { body: await readFile(full), type };
  } catch {
    return undefined;
  }
}

export function createStaticResolver(staticDir: string) {
  const root = resolve(staticDir);
  return {
    index: () => readInside(root, 'index.html'),
    /**
     * The file for a URL path: the file itself; for a deeper path ending in
     * `/assets/<file>` (relative asset URLs under an SPA fallback page), that asset;
     * for an extension-less path or a task page (`/tasks/<ns>/<name>`), index.html (the SPA
     * fallback). Else undefined (404).
     */
    async resolve(urlPath: string): Promise<StaticFile | undefined> {
      let path: string;
      try {
        path = decodeURIComponent(urlPath);
      } catch {
        return undefined;
      }
      if (path.includes('\0') || path.includes('\\')) return undefined;
      const segments = path.split('/').filter((s) => s !== '');
      if (segments.some((s) => s === '..' || s.startsWith('.'))) return undefined;
      if (segments.length === 0) return await this.index();
      const direct = await readInside(root, segments.join('/'));
      if (direct) return direct;
      const assets = segments.lastIndexOf('assets');
      if (assets > 0 && assets === segments.length - 2) {
        return await readInside(root, segments.slice(assets).join('/'));
      }
      // The page's own routes: a task name may contain dots (`/tasks/<namespace>/<name>`).
      if (segments[0] === 'tasks' && segments.length <= 3) return await this.index();
      if (extname(segments[segments.length - 1]!) === '') return await this.index();
      return undefined;
    },
  };
}
