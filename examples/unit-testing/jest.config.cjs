// Jest configuration of this example only (the project's own tests run on vitest under test/).
// A project that installs svcroute from npm needs none of this: `require('svcroute')` resolves
// through node_modules. Inside this repository the package is resolved to its own CJS build.
const { join } = require('node:path');

const dist = join(__dirname, '..', '..', 'dist');

module.exports = {
  rootDir: __dirname,
  testMatch: ['<rootDir>/*.jest.test.cjs'],
  testEnvironment: 'node',
  moduleNameMapper: {
    '^svcroute$': join(dist, 'index.cjs'),
    '^svcroute/(.*)$': join(dist, '$1.cjs'),
  },
  cacheDirectory: join(__dirname, '..', '..', 'node_modules', '.cache', 'jest-examples'),
};
