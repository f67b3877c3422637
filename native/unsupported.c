/* Platforms without recvmmsg/sendmmsg and epoll-style relays: no native parts. */
#include <stddef.h>
#include "addon.h"

napi_value svcroute_udp_init(napi_env env) { return NULL; }
napi_value svcroute_tcp_init(napi_env env) { return NULL; }
