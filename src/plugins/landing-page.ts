import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';

/** What Sandbox opens with: the README's first product, created and then read back by sku. */
export const SANDBOX_EXAMPLE = {
  document: `# Run CreateProduct once, then ProductBySku: the version grows by 1 with every change.
mutation CreateProduct($input: NewProduct!) {
  createProduct(input: $input) { id sku name priceCents stock version updatedAt }
}

query ProductBySku($sku: String!) {
  productBySku(sku: $sku) { id sku name priceCents stock version updatedAt }
}
`,
  variables: { input: { sku: 'ANVIL-1', name: 'Anvil', priceCents: 4999, stock: 3 }, sku: 'ANVIL-1' },
} as const;

/**
 * Exactly one landing page plugin is always installed, so Apollo Server never
 * picks one itself from NODE_ENV (config.ts is the only reader of the environment).
 */
export function landingPagePlugin<TContext extends object>(sandbox: boolean): ApolloServerPlugin<TContext> {
  if (!sandbox) return ApolloServerPluginLandingPageDisabled();
  return ApolloServerPluginLandingPageLocalDefault({
    embed: true,
    includeCookies: false,
    document: SANDBOX_EXAMPLE.document,
    variables: SANDBOX_EXAMPLE.variables,
  });
}
