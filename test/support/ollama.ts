/**
 * An Ollama stand-in for tests: speaks the real HTTP protocol of the endpoints
 * the runner uses (POST /api/generate, non-streaming; GET /api/tags) and
 * records what it was asked. No model: the answer is scripted by the test.
 */
import { createServer, type Server } from 'node:http';

export interface GenerateRequest {
  model: string;
  prompt: string;
  stream?: boolean;
}

export class OllamaStandIn {
  readonly requests: GenerateRequest[] = [];
  answer: (request: GenerateRequest) => string = (r) => `echo: ${r.prompt}`;
  private server: Server | undefined;
  url = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        if (req.method === 'GET' && req.url === '/api/tags') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ models: [] }));
          return;
        }
        if (req.method !== 'POST' || req.url !== '/api/generate') {
          res.writeHead(404).end();
          return;
        }
        const request = JSON.parse(body) as GenerateRequest;
        this.requests.push(request);
        const response = {
          model: request.model,
          created_at: new Date().toISOString(),
          response: this.answer(request),
          done: true,
          done_reason: 'stop',
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(response));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
