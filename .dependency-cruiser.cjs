/**
 * Import rules between Parley's parts, checked by dependency-cruiser in `npm test`
 * (`npm run lint:deps`). A forbidden import fails the run and names the rule it breaks.
 *
 *   contracts/      wire contracts (zod schemas, protocol types): imports nothing of ours
 *   server-common/  Node code both servers use: may import contracts/
 *   sfu/            imports contracts/ and server-common/, never gateway/
 *   gateway/        imports contracts/, server-common/ and only the SFU's public face
 *   client/         imports contracts/ only (browser code: no Node built-ins, no server code)
 */
const TEST_FILE = '\\.test\\.tsx?$';
const TEST_SUPPORT = '(^|/)test-support/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'contracts-stand-alone',
      comment:
        'contracts/ is what crosses a process boundary; both servers and the browser import it, so it imports no code of ours.',
      severity: 'error',
      from: { path: '^contracts/' },
      to: { path: '^(gateway|sfu|client|server-common|e2e|bench)/' },
    },
    {
      name: 'contracts-run-in-browsers',
      comment: 'The web client imports contracts/: it must not need Node built-ins.',
      severity: 'error',
      from: { path: '^contracts/', pathNot: TEST_FILE },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'server-common-is-shared',
      comment: 'server-common/ is used by the gateway and the SFU alike: it depends on neither (nor on the client).',
      severity: 'error',
      from: { path: '^server-common/' },
      to: { path: '^(gateway|sfu|client|e2e|bench)/' },
    },
    {
      name: 'sfu-independent-of-gateway',
      comment: 'An SFU node runs on its own (sfu/src/main.ts): nothing in sfu/, tests included, may import the gateway.',
      severity: 'error',
      from: { path: '^sfu/' },
      to: { path: '^gateway/' },
    },
    {
      name: 'gateway-uses-sfu-public-face',
      comment:
        'The gateway reaches the SFU only through its public face: sfu/src/index.ts (the node), sfu/src/config.ts (its settings) and sfu/src/registry/index.ts (the conference registry).',
      severity: 'error',
      from: { path: '^gateway/' },
      to: { path: '^sfu/', pathNot: '^sfu/src/(index|config|registry/index)\\.ts$' },
    },
    {
      name: 'sfu-node-wired-at-composition-root',
      comment:
        'Only the composition root (gateway/src/gateway.ts) builds the embedded SFU node, and only config.ts reads its settings; other gateway modules get what they need injected.',
      severity: 'error',
      from: { path: '^gateway/', pathNot: '^gateway/src/(gateway|config)\\.ts$' },
      to: { path: '^sfu/src/(index|config)\\.ts$' },
    },
    {
      name: 'client-imports-only-contracts',
      comment: 'The browser code shares only the wire contracts with the servers, never their internals.',
      severity: 'error',
      from: { path: '^client/' },
      to: { path: '^(gateway|sfu|server-common|e2e|bench)/' },
    },
    {
      name: 'client-runs-in-browsers',
      comment: 'Browser code cannot use Node built-ins.',
      severity: 'error',
      from: { path: '^client/', pathNot: TEST_FILE },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'widget-stays-small',
      comment: 'widget.js runs on other sites and stays a few KB: no React, no app code, no protocol stacks.',
      severity: 'error',
      from: { path: '^client/widget/' },
      to: { path: '^client/src/|node_modules/(react|react-dom|jssip|strophe\\.js|mediasoup-client|zod)/' },
    },
    {
      name: 'no-test-code-in-production',
      comment: 'Shipped code must not import tests, test harnesses, e2e or benchmark code.',
      severity: 'error',
      from: {
        path: '^(contracts|server-common|gateway/src|sfu/src|client)/',
        pathNot: [TEST_FILE, TEST_SUPPORT],
      },
      to: { path: [TEST_FILE, TEST_SUPPORT, '^e2e/', '^bench/'] },
    },
    {
      name: 'no-dev-dependencies-in-servers',
      comment:
        'Server code that ships must run with production dependencies only (types from dev packages are fine: they vanish on compile).',
      severity: 'error',
      from: {
        path: '^(contracts|server-common|gateway/src|sfu/src)/',
        pathNot: [TEST_FILE, TEST_SUPPORT],
      },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      comment: 'Modules that import each other in a loop have no clear owner; cut the loop with an interface.',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'The import names a file or package that does not exist.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|build|dist|test-results|data|\\.cache)/' },
    // See type-only imports too, so that the rules above can tell them apart.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
