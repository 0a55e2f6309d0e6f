import type { IncomingMessage, ServerResponse } from 'node:http';

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** The client closed the connection before its request had arrived in full. */
export class ClientAbortError extends Error {
  override readonly name = 'ClientAbortError';
}

/**
 * Reads the whole body as UTF-8, refusing once it passes `limitBytes` without
 * reading further: the caller answers and closes the connection, so the rest
 * of an oversized body is never read (not even to discard it).
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    return Promise.reject(new BodyTooLargeError(`Request body exceeds ${limitBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        req.removeListener('data', onData);
        req.pause();
        reject(new BodyTooLargeError(`Request body exceeds ${limitBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // A hang-up mid-body surfaces as an "aborted" ECONNRESET, or only as a close.
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ECONNRESET' || req.destroyed ? new ClientAbortError('the client closed the connection mid-body', { cause: err }) : err),
    );
    req.on('close', () => {
      if (!req.complete) reject(new ClientAbortError('the client closed the connection mid-body'));
    });
  });
}

/**
 * Whether part of the request's body is still on its way: refusing such a
 * request without reading it must close the connection, or Node would read
 * (and discard) the rest to reuse the connection, however long it is.
 */
export function bodyStillArriving(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * For a refusal sent while the body is still arriving: `connection: close`, and
 * the socket is destroyed once the answer is written, so the rest of the body
 * is never read. (Node would otherwise read and discard all of it to keep the
 * connection alive, however much a client declares.)
 */
export function closeAfterResponse(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
  res.once('finish', () => req.socket.destroy());
}
