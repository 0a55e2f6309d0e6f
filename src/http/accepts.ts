import Negotiator from 'negotiator';

/** What Apollo Server can answer one result as, in its order of preference. */
const RESULT_TYPES = [
  'application/json; charset=utf-8',
  'application/graphql-response+json; charset=utf-8',
  'application/json; callbackSpec=1.0; charset=utf-8',
];

/**
 * Whether an `accept` header allows a type Apollo can send a result as. Apollo
 * decides this only after executing the operation, so a mutation with such a
 * header would commit and then be answered 406; asked here, from the headers,
 * the request is refused before anything runs. Same library, same candidates
 * as Apollo's own choice, so the two never disagree.
 */
export function acceptsGraphqlResult(accept: string | undefined): boolean {
  // The common values, decided without parsing.
  if (accept === undefined || accept === '' || accept === '*/*' || accept === 'application/json' || accept === 'application/graphql-response+json') {
    return true;
  }
  return new Negotiator({ headers: { accept } }).mediaType(RESULT_TYPES) !== undefined;
}
