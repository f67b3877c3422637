/* Module entry: one object per fast path (see addon.h). Context-aware, so it loads in workers. */
#include <stddef.h>
#include "addon.h"

napi_value svcroute_throw(napi_env env, const char *message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, message);
  return NULL;
}

static void set_part(napi_env env, napi_value exports, const char *name, napi_value part) {
  if (part != NULL) napi_set_named_property(env, exports, name, part);
}

NAPI_MODULE_INIT() {
  set_part(env, exports, "udp", svcroute_udp_init(env));
  set_part(env, exports, "tcp", svcroute_tcp_init(env));
  return exports;
}
