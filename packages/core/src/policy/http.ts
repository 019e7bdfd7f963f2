/** A complete HTTP answer a transport sends as it is (an empty body for HEAD, 204 and 304). */
export interface HttpAnswer {
  /** The HTTP status code. */
  status: number;
  /** Response headers, Content-Type included. */
  headers: Record<string, string>;
  /** The whole body, as text (empty for none). */
  body: string;
  /** Close the connection after this answer (`Connection: close` over HTTP/1). Default: false. */
  closeConnection?: boolean;
}

/** Reads one request header by its lower-case name (the first value when repeated). */
export type HeaderReader = (name: string) => string | undefined;

/** A plain-text answer. */
export function textAnswer(status: number, body: string, headers: Record<string, string> = {}): HttpAnswer {
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers }, body };
}

/** A JSON answer that no cache keeps. `head`: the body is left out (a HEAD request). */
export function jsonAnswer(status: number, value: unknown, headers: Record<string, string> = {}, head = false): HttpAnswer {
  return {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
    body: head ? '' : JSON.stringify(value),
  };
}

/** True when the answer carries no body whatever it holds: HEAD, 204 and 304. */
export function bodiless(a: HttpAnswer, head: boolean): boolean {
  return head || a.status === 204 || a.status === 304;
}
