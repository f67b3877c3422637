// Discovery by environment variables: the variables kubelet gives a new pod for the services of
// its namespace, rendered from the registry, then parsed back the way a program reads them.
//
// redis-master has the fixed cluster IP 10.0.0.11 (service range 10.0.0.0/24) and two replicas.
// Nothing here connects anywhere: 10.0.0.11 is a virtual address, rendered only.
import assert from 'node:assert/strict';
import { Registry } from 'svcroute';
import { discoverFromEnv, formatEnv, renderEnvForPod } from 'svcroute/env';
import { loadInto } from './load.mjs';

const registry = new Registry({ serviceClusterIPRanges: ['10.0.0.0/24'] });
await loadInto(registry, 'redis-master.yaml');

const endpoints = registry.snapshot().ports.get('default/redis-master')?.endpoints ?? [];
console.log(`redis-master -> ${endpoints.map((e) => e.key).join(', ')}  (2 replicas)`);
assert.deepEqual(endpoints.map((e) => e.key).sort(), ['127.0.0.41:6379', '127.0.0.42:6379']);

// The frontend pod was created after the service, so kubelet gives it the service's variables.
const frontend = await registry.get('Pod', 'default', 'frontend');
const { vars } = renderEnvForPod(frontend, await registry.list('Service'));
console.log('\nEnvironment of pod default/frontend (container php-redis):');
console.log(formatEnv(vars).trimEnd().replace(/^/gm, '  '));

const env = Object.fromEntries(vars.map((v) => [v.name, v.value]));
assert.equal(env.REDIS_MASTER_SERVICE_HOST, '10.0.0.11');
assert.equal(env.REDIS_MASTER_SERVICE_PORT, '6379');
assert.equal(env.REDIS_MASTER_PORT, 'tcp://10.0.0.11:6379');
assert.equal(env.REDIS_MASTER_PORT_6379_TCP_ADDR, '10.0.0.11');
// Every pod also sees the API server's own service.
assert.equal(env.KUBERNETES_SERVICE_HOST, '10.0.0.1');

// In the frontend's own code: read process.env (here, the rendered variables).
const redis = discoverFromEnv(env).get('redis-master');
console.log(
  `\ndiscoverFromEnv(process.env).get('redis-master') -> ${redis.host}:${redis.port} (${redis.protocol})`,
);
assert.equal(`${redis.host}:${redis.port}`, '10.0.0.11:6379');

await registry.close();
