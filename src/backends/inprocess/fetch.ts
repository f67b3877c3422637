/**
 * `fetch()` and undici clients routed by service name: {@link ServiceDispatcher} sends
 * `fetch('http://backend.my-ns/path', { dispatcher })` straight to an endpoint that a
 * `ServiceResolver` (from `svcroute/inprocess`) picks.
 *
 * An entry of its own because it needs undici: the resolver, `connectService()` and the
 * userspace proxy load without it, so a proxy process neither parses nor keeps undici's modules.
 *
 * @module
 */
export { ServiceDispatcher, type ServiceDispatcherOptions } from './dispatcher';
