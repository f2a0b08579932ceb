/**
 * An incremental Server-Sent Events parser (the WHATWG event-stream format both providers stream in):
 * lines end in LF, CRLF or CR; `event:` names the event, `data:` lines are joined with LF; a blank line
 * dispatches; lines starting with `:` are comments. A line longer than `maxLineBytes` is an error, not a
 * buffer that grows without bound.
 */
export interface SseEvent {
  event?: string;
  data: string;
}

export class SseParser {
  readonly #maxLine: number;
  #buffer = '';
  #event: string | undefined;
  #data: string[] = [];
  #sawCr = false;

  constructor(maxLineBytes = 1024 * 1024) {
    this.#maxLine = maxLineBytes;
  }

  /** Feeds decoded text; returns the events it completed. Throws if a line exceeds the limit. */
  push(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      if (ch === 10 && this.#sawCr && i === start && this.#buffer === '') {
        // the LF of a CRLF split across or within chunks
        this.#sawCr = false;
        start = i + 1;
        continue;
      }
      this.#line(this.#buffer + text.slice(start, i), events);
      this.#buffer = '';
      this.#sawCr = ch === 13;
      start = i + 1;
    }
    const rest = text.slice(start);
    if (rest.length > 0) this.#sawCr = false;
    this.#buffer += rest;
    if (this.#buffer.length > this.#maxLine) throw new Error(`SSE line longer than ${this.#maxLine} bytes`);
    return events;
  }

  /** The stream ended: an event without its closing blank line still counts. */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.#buffer !== '') this.#line(this.#buffer, events);
    this.#buffer = '';
    this.#line('', events);
    return events;
  }

  #line(line: string, events: SseEvent[]): void {
    if (line === '') {
      if (this.#data.length > 0) {
        events.push({
          ...(this.#event !== undefined ? { event: this.#event } : {}),
          data: this.#data.join('\n'),
        });
      }
      this.#event = undefined;
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
  }
}
