/**
 * An Ollama stream that waits (not a test file): it answers POST /api/chat or /api/generate with its
 * first NDJSON chunk, then holds the rest until the test calls `release()`, and counts clients that
 * went away mid-stream. The gateway's flow-control tests need both hooks, which
 * test/support/scripted-ollama.ts does not offer (it has `hang`, with no headers, and no disconnect
 * count); everything else is tested against that scripted Ollama.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export class HoldingOllama {
  readonly words = ['Hello', ' from', ' the', ' model'];
  /** Streams whose client went away before the end (Ollama's side saw the cancel). */
  clientsGone = 0;
  url = '';
  #release: () => void = () => {};
  #server?: Server;

  /** Sends the rest of the held stream. */
  release(): void {
    this.#release();
  }

  async start(): Promise<string> {
    this.#server = createServer((req, res) => void this.#serve(req, res));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const { model } = JSON.parse(Buffer.concat(chunks).toString()) as { model: string };
    const chat = req.url === '/api/chat';
    const piece = (text: string, done: boolean) =>
      chat
        ? {
            model,
            created_at: new Date(0).toISOString(),
            message: { role: 'assistant', content: text },
            done,
          }
        : { model, created_at: new Date(0).toISOString(), response: text, done };
    res.on('close', () => {
      if (!res.writableFinished) this.clientsGone++;
    });
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    await new Promise<void>((resolve) =>
      res.write(`${JSON.stringify(piece(this.words[0] ?? '', false))}\n`, () => resolve()),
    );
    await new Promise<void>((resolve) => {
      this.#release = resolve;
      res.on('close', resolve);
    });
    if (res.destroyed) return;
    for (const word of this.words.slice(1)) res.write(`${JSON.stringify(piece(word, false))}\n`);
    const final = {
      ...piece('', true),
      done_reason: 'stop',
      prompt_eval_count: 12,
      eval_count: this.words.length,
    };
    res.end(`${JSON.stringify(final)}\n`);
  }
}
