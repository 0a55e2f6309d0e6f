import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { readSchemaSdl } from './schema-sdl.js';

/** The name our own subgraph gets when a supergraph config does not list it. */
export const OWN_SUBGRAPH = 'freshgraph';
/** @default routing URL of our own subgraph when the config does not give one */
export const OWN_ROUTING_URL = 'http://localhost:4000/graphql';

export interface SubgraphSource {
  readonly name: string;
  readonly routingUrl: string;
  readonly sdl: string;
  /** Where the SDL came from, for messages. */
  readonly origin: string;
}

export type ComposeOutcome =
  | { readonly ok: true; readonly supergraphSdl: string; readonly hints: readonly string[] }
  | { readonly ok: false; readonly errors: readonly string[] };

export class SupergraphConfigError extends Error {
  override readonly name = 'SupergraphConfigError';
}

// The subset of rover's supergraph.yaml that needs no network beyond the subgraphs themselves.
const subgraphEntry = z
  .object({
    routing_url: z.string().url().optional(),
    schema: z
      .union([
        z.object({ file: z.string().min(1) }).strict(),
        z.object({ subgraph_url: z.string().url() }).strict(),
      ])
      .optional(),
  })
  .strict();

const configSchema = z.object({
  // rover picks a composition version from this; we compose with the pinned @apollo/composition.
  federation_version: z.union([z.string(), z.number()]).optional(),
  subgraphs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'use letters, digits, "_" or "-"'), subgraphEntry),
});

/**
 * The subgraphs a `supergraph.yaml` names, with their SDL: `schema.file` is read
 * relative to the config file, `schema.subgraph_url` is asked for `_service { sdl }`.
 * Our own subgraph (`freshgraph`, SDL from schema/) is added when the file does not list it,
 * and an entry named `freshgraph` without `schema` means ours.
 */
export async function loadSupergraphConfig(path: string): Promise<SubgraphSource[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SupergraphConfigError(`Cannot read ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new SupergraphConfigError(`${path} is not valid YAML: ${(err as Error).message}`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new SupergraphConfigError(
      `${path} is not a supergraph config:\n${lines.join('\n')}\n` +
        `Expected: subgraphs: { <name>: { routing_url: <url>, schema: { file: <path> } | { subgraph_url: <url> } } }`,
    );
  }
  const base = dirname(resolve(path));
  const sources: SubgraphSource[] = [];
  for (const [name, entry] of Object.entries(parsed.data.subgraphs)) {
    const schema = entry.schema;
    if (schema === undefined) {
      if (name !== OWN_SUBGRAPH) throw new SupergraphConfigError(`subgraphs.${name} needs schema.file or schema.subgraph_url`);
      sources.push({ name, routingUrl: entry.routing_url ?? OWN_ROUTING_URL, sdl: readSchemaSdl(), origin: 'schema/' });
    } else if ('file' in schema) {
      const file = resolve(base, schema.file);
      if (entry.routing_url === undefined) throw new SupergraphConfigError(`subgraphs.${name} needs a routing_url`);
      let sdl: string;
      try {
        // A folder is read as schema/ is: every .graphql file in it, in name order.
        sdl = (await stat(file)).isDirectory() ? readSchemaSdl(file) : await readFile(file, 'utf8');
      } catch (err) {
        throw new SupergraphConfigError(`subgraphs.${name}: cannot read ${file}: ${(err as Error).message}`);
      }
      sources.push({ name, routingUrl: entry.routing_url, sdl, origin: file });
    } else {
      const sdl = await fetchSdl(name, schema.subgraph_url);
      sources.push({ name, routingUrl: entry.routing_url ?? schema.subgraph_url, sdl, origin: schema.subgraph_url });
    }
  }
  if (!sources.some((s) => s.name === OWN_SUBGRAPH)) {
    sources.unshift({ name: OWN_SUBGRAPH, routingUrl: OWN_ROUTING_URL, sdl: readSchemaSdl(), origin: 'schema/' });
  }
  return sources;
}

/** Federation 2 composition, as rover and GraphOS do it, without downloading anything. */
export function composeSupergraph(subgraphs: readonly SubgraphSource[]): ComposeOutcome {
  const services = [];
  const errors: string[] = [];
  for (const s of subgraphs) {
    try {
      services.push({ name: s.name, url: s.routingUrl, typeDefs: parse(s.sdl) });
    } catch (err) {
      errors.push(`[${s.name}] ${s.origin} is not valid GraphQL: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  const result = composeServices(services);
  if (result.errors) {
    return {
      ok: false,
      errors: result.errors.map((e) => `${typeof e.extensions['code'] === 'string' ? `${e.extensions['code']}: ` : ''}${e.message}`),
    };
  }
  return { ok: true, supergraphSdl: result.supergraphSdl, hints: result.hints.map((h) => h.toString()) };
}

async function fetchSdl(name: string, url: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ _service { sdl } }' }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new SupergraphConfigError(`subgraphs.${name}: cannot reach ${url}: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => null)) as { data?: { _service?: { sdl?: unknown } } } | null;
  const sdl = body?.data?._service?.sdl;
  if (typeof sdl !== 'string') {
    throw new SupergraphConfigError(`subgraphs.${name}: ${url} answered ${res.status} without _service { sdl }; is it a subgraph?`);
  }
  return sdl;
}
