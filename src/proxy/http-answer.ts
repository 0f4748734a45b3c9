/**
 * Responses the proxy writes itself (404 unknown host, 503 no machine, 502 bad app response,
 * 301 force_https, ...): a plain-text body that says why, prefixed `hangar-proxy:` so a user can
 * tell the proxy's answer from the app's.
 */

const STATUS_TEXT: Readonly<Record<number, string>> = {
  301: 'Moved Permanently',
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** The whole response as a string (`lines` = `Fly-Request-Id`/`Via`, or `''` when pristine). */
export function proxyAnswer(status: number, body: string, extra: string, lines: string, closing: boolean): string {
  const len = Buffer.byteLength(body);
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
    extra +
    (len > 0 ? 'Content-Type: text/plain; charset=utf-8\r\n' : '') +
    `Content-Length: ${len}\r\n` +
    lines +
    (closing ? 'Connection: close\r\n' : '') +
    '\r\n' +
    body
  );
}
