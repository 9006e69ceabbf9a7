/** Jest: TypeScript through SWC (type checking is `tsc`'s job in `npm test`). */
const swc = ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }];
/**
 * The OTLP exporter's transport loads node:http with a dynamic import(), which Jest's module
 * sandbox refuses without --experimental-vm-modules; SWC turns it into require() for that one
 * package, in tests only (a node process runs the package as published).
 */
const DYNAMIC_IMPORTERS = '@opentelemetry/otlp-exporter-base';

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': swc,
    [`/node_modules/${DYNAMIC_IMPORTERS}/.+\\.js$`]: ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!${DYNAMIC_IMPORTERS}/)`],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 30000,
};
