import {
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type FragmentSpreadNode,
  type InlineFragmentNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * What one walk over selection sets computes. The walk expands fragments; the
 * walk's owner says what a field is worth (`field`) and how values add up.
 * `C` is what a selection set is walked in (its parent type, say); a fragment
 * is folded once per distinct `key(context)` and its value reused for every
 * further spread, so fragments that spread each other exponentially cost the
 * walk nothing: their values grow instead.
 */
export interface SelectionWalk<R, C> {
  readonly empty: R;
  add(a: R, b: R): R;
  /** The value of one field; `inner` walks a selection set (its own, usually) in a context. */
  field(node: FieldNode, context: C, inner: (set: SelectionSetNode, context: C) => R): R;
  /** The context inside a fragment with this type condition (undefined: none, the enclosing type's). @default the same context */
  enter?(typeCondition: string | undefined, context: C): C;
  /** What a fragment adds around what it selects (its directives, say); per spread. @default nothing */
  fragment?(value: R, node: InlineFragmentNode | FragmentSpreadNode, definition: FragmentDefinitionNode | undefined): R;
  /** Contexts with the same key give a fragment the same value. @default one key for all */
  key?(context: C): string;
}

export type Fragments = ReadonlyMap<string, FragmentDefinitionNode>;

export function fragmentsOf(document: DocumentNode): Fragments {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  return fragments;
}

/**
 * A walker over the selection sets of one document, sharing what it learns of
 * each fragment between calls. A fragment that is unknown, or spread within
 * itself, is worth `empty`: graphql-js' own validation rules report both, and
 * the walk only has to end.
 */
export function selectionWalker<R, C>(fragments: Fragments, walk: SelectionWalk<R, C>): (set: SelectionSetNode, context: C) => R {
  const memo = new Map<string, R>();
  const visiting = new Set<string>();
  const enter = walk.enter ?? ((_: string | undefined, context: C) => context);
  const keyOf = walk.key ?? (() => '');

  const spread = (node: FragmentSpreadNode, context: C): R => {
    const name = node.name.value;
    const definition = fragments.get(name);
    if (definition === undefined) return walk.empty;
    const inside = enter(definition.typeCondition.name.value, context);
    // A fragment name cannot hold a newline, so this key names one (fragment, context) pair.
    const key = `${name}\n${keyOf(inside)}`;
    let value = memo.get(key);
    if (value === undefined) {
      if (visiting.has(key)) return walk.empty;
      visiting.add(key);
      value = set(definition.selectionSet, inside);
      visiting.delete(key);
      memo.set(key, value);
    }
    return walk.fragment ? walk.fragment(value, node, definition) : value;
  };

  const set = (selectionSet: SelectionSetNode, context: C): R => {
    let total = walk.empty;
    for (const selection of selectionSet.selections) {
      let value: R;
      if (selection.kind === Kind.FIELD) {
        value = walk.field(selection, context, set);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        value = set(selection.selectionSet, enter(selection.typeCondition?.name.value, context));
        if (walk.fragment) value = walk.fragment(value, selection, undefined);
      } else {
        value = spread(selection, context);
      }
      total = walk.add(total, value);
    }
    return total;
  };
  return set;
}
