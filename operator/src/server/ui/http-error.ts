/** An error a UI route answers with: its status code, its message, and who said it. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly source: 'ui' | 'apiserver';
  constructor(statusCode: number, message: string, source: 'ui' | 'apiserver' = 'ui') {
    super(message);
    this.statusCode = statusCode;
    this.source = source;
  }
}
