/* Batched UDP sockets for the DNS server. */
#include <stddef.h>
#include "addon.h"

napi_value svcroute_udp_init(napi_env env) { return NULL; }
