{
  "targets": [
    {
      "target_name": "svcroute_native",
      "sources": ["native/addon.c", "native/udp_batch.c", "native/tcp_relay.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [["OS!='linux'", { "sources!": ["native/udp_batch.c", "native/tcp_relay.c"], "sources": ["native/unsupported.c"] }]]
    }
  ]
}
