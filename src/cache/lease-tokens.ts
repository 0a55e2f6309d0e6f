import { randomBytes } from 'node:crypto';

/** Fill-lease tokens: unique per instance (a random prefix) and per read (a counter), cheap to make. */
export class LeaseTokens {
  private readonly instance = randomBytes(6).toString('base64url');
  private seq = 0;

  next(): string {
    return `${this.instance}.${(this.seq++).toString(36)}`;
  }
}
