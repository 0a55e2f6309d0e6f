// The part of `negotiator` (the library Apollo Server negotiates with) that accepts.ts uses.
declare module 'negotiator' {
  export default class Negotiator {
    constructor(request: { headers: Record<string, string | undefined> });
    /** The most preferred of `available` that the accept header allows, or undefined. */
    mediaType(available?: string[]): string | undefined;
  }
}
