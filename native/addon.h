/*
 * svcroute's optional native fast paths. Each part builds one JS object of functions; addon.c
 * hangs them off the module's exports. Everything here is Linux-only: other platforms build
 * unsupported.c, whose parts are absent, and svcroute uses its pure JavaScript paths there.
 */
#ifndef SVCROUTE_ADDON_H
#define SVCROUTE_ADDON_H

#include <node_api.h>

/* Batched UDP sockets (recvmmsg/sendmmsg) for the DNS server: the `udp` export, or NULL. */
napi_value svcroute_udp_init(napi_env env);

/* The TCP relay engine for the userspace proxy: the `tcp` export, or NULL. */
napi_value svcroute_tcp_init(napi_env env);

/* Throws a JS Error with `message` unless an exception is already pending; returns NULL. */
napi_value svcroute_throw(napi_env env, const char *message);

#endif
