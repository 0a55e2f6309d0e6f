/**
 * What the storefront asks of the freshgraph it talks to, shared by `npm run example` and the
 * browser test: the debug view its panel shows, and a cost limit its order history fits. That
 * history asks for 5 orders with every line's product, which the server counts as up to 1,005
 * objects (an order may hold 100 lines), over the default MAX_COST of 1,000.
 */
export const STOREFRONT_SERVER_ENV = {
  DEBUG_EXTENSIONS: 'true',
  MAX_COST: '5000',
} as const;
