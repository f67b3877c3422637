/* The TCP relay engine of the userspace proxy. */
#include <stddef.h>
#include "addon.h"

napi_value svcroute_tcp_init(napi_env env) { return NULL; }
