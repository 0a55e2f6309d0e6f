import { valueOf, type ConnectionPlan, type Plan, type Shape } from './plan.js';

/**
 * What the cost limit (plugins/cost-limit.ts, `operationCost`) prices a plan at
 * in one request, by the same rules, from the plan instead of a walk of the
 * document: an object costs 1 plus what it selects, a scalar 0, a plain list its
 * bound times (1 + one member), a connection 1 + `first` plus `first` times what
 * `edges` and `nodes` select below the row, a root field at least 1. The fast
 * path learns an operation only when this equals `operationCost` for the
 * request the pipeline accepted (index.ts), and the shortcut answers only
 * requests priced no higher than one accepted before.
 */
export function planCost(p: Plan, variables: Record<string, unknown> | undefined): number {
  const cost = (() => {
    switch (p.kind) {
      case 'one':
        return 1 + shapeCost(p.shape, variables);
      case 'many': {
        const ids = valueOf(p.arg, variables);
        return (Array.isArray(ids) ? ids.length : 0) * (1 + shapeCost(p.shape, variables));
      }
      case 'entities': {
        const representations = valueOf(p.arg, variables);
        let each = 1;
        for (const { shape } of p.shapes.values()) each += shapeCost(shape, variables);
        return (Array.isArray(representations) ? representations.length : 0) * each;
      }
      case 'rootList':
        return p.field.kind === 'list' ? p.field.max * (1 + shapeCost(p.field.shape, variables)) : connectionCost(p.field, variables);
    }
  })();
  return Math.max(1, cost);
}

function shapeCost(shape: Shape, variables: Record<string, unknown> | undefined): number {
  if (!shape.nested) return 0;
  let total = 0;
  for (const field of shape.fields) {
    if (field.kind === 'relation') total += 1 + shapeCost(field.shape, variables);
    else if (field.kind === 'list') total += field.max * (1 + shapeCost(field.shape, variables));
    else if (field.kind === 'connection') total += connectionCost(field, variables);
  }
  return total;
}

/** The page the cost counts: `first` as given, else the argument's default, else the largest page; within 0 and the largest page. */
export function pageOf(field: ConnectionPlan, variables: Record<string, unknown> | undefined): number {
  const given = field.first === undefined ? undefined : valueOf(field.first, variables);
  const first = given === undefined ? field.firstDefault : given;
  const asked = typeof first === 'number' ? first : typeof field.firstDefault === 'number' ? field.firstDefault : field.maxPage;
  return Math.min(field.maxPage, Math.max(0, asked));
}

function connectionCost(field: ConnectionPlan, variables: Record<string, unknown> | undefined): number {
  const page = pageOf(field, variables);
  let total = 1 + page;
  for (const part of field.parts) {
    if (part.kind === 'pageInfo') total += 1;
    else if (part.kind === 'nodes') total += page * shapeCost(part.shape, variables);
    else if (part.kind === 'edges') {
      for (const edge of part.parts) if (edge.kind === 'node') total += page * shapeCost(edge.shape, variables);
    }
  }
  return total;
}
