/**
 * node:http without its ES module namespace. `import … from 'node:http'` builds the namespace by reading every
 * export, and three are getters (WebSocket, CloseEvent, MessageEvent) that load Node's bundled undici: about
 * 13 MB more RSS in each process (measured on Node 24). Reading the module object touches only what is used.
 * Types still come from `import type … from 'node:http'`.
 */
export const http = process.getBuiltinModule('node:http');
