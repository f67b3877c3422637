// Loads the seed manifests into a Registry the way `kubectl apply -f` fills an API server:
// namespaces first, then services, then pods (the endpoints controller turns the pods a
// service selects into its EndpointSlices).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseManifests } from 'svcroute';

const ORDER = { Namespace: 0, Node: 1, Service: 2, EndpointSlice: 3, Pod: 4 };

/** The objects of one manifest file of `examples/seed/manifests`, in creation order. */
export function readManifests(name) {
  const path = fileURLToPath(new URL(`./manifests/${name}`, import.meta.url));
  // parseManifests reads YAML as kubectl does and checks every field's type, naming the file,
  // document and field of a problem; the sort is stable, so same-kind objects keep file order.
  return parseManifests(readFileSync(path, 'utf8'), `examples/seed/manifests/${name}`).sort(
    (a, b) => (ORDER[a.kind] ?? 9) - (ORDER[b.kind] ?? 9),
  );
}

/** Creates every object of the files in `registry` and waits until it has settled. */
export async function loadInto(registry, ...names) {
  for (const name of names) for (const object of readManifests(name)) await registry.create(object);
  await registry.settled();
  return registry;
}
