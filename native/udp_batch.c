/*
 * Batched UDP sockets: the `udp` part of the add-on.
 *
 * Node's dgram costs one recvmsg, one sendmsg, one JavaScript callback, one send request and one
 * Buffer per datagram. This socket moves datagrams in batches instead: on each wake of Node's
 * loop it reads up to `slots` datagrams with one recvmmsg into fixed slots of a Buffer that
 * JavaScript shares, makes ONE JavaScript call for the whole batch, and sends whatever replies
 * JavaScript wrote into the shared out Buffer with one sendmmsg, each back to its slot's source.
 * Nothing here knows what the datagrams mean.
 *
 * Memory shared with JavaScript (created once per socket, never reallocated):
 * - inBuffer: `slots` slots of `slotBytes`; slot i holds the i-th datagram of the batch;
 * - inLengths[i]: its length, or -1 when it was bigger than a slot (cut off by the kernel: its
 *   bytes must not be used);
 * - outBuffer + outOffsets[i] / outLengths[i]: the reply to slot i (0 = none; zeroed before each
 *   batch, so a slot JavaScript leaves alone gets no reply).
 *
 * Sending never buffers: a reply the kernel does not take at once (socket buffer full) is
 * dropped and counted, as a loaded DNS server should rather than queue without bound.
 *
 * Answer cache (optional, off unless `cacheEntries` > 0): JavaScript may hand the socket DNS
 * response templates (`cacheSet`). A datagram that is an ordinary DNS query whose question has a
 * template is then answered here, without JavaScript: the template copied, the query's ID, RD/CD
 * bits and question bytes patched in, its OPT record mirrored, and the reply cut to the client's
 * UDP size. This is the one place the socket knows what datagrams mean; it must produce exactly
 * the bytes the JavaScript server's `patch` produces, so every rule below mirrors that code.
 * Answered slots get inLengths[i] = -2 and JavaScript is called only when some slot is left
 * (with the first free offset of the out Buffer as its second argument).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include <sys/random.h>
#include "addon.h"

/* Datagrams per batch unless told otherwise: 64, enough to spread the JavaScript call and the
 * two system calls over many datagrams under load, small enough for the batch's working set
 * (headers, lengths, the first lines of each slot) to stay in cache. */
#define DEFAULT_SLOTS 64
#define MAX_SLOTS 1024
/* A slot holds the largest UDP payload there is (65,535 bytes minus headers), so nothing is cut
 * off unless the caller asks for smaller slots. */
#define DEFAULT_SLOT_BYTES 65536
#define MIN_SLOT_BYTES 512
/* The largest datagram a reply can be. */
#define MAX_DATAGRAM_BYTES 65535
/* Kernel socket buffers: 4 MiB, as the JavaScript path asks dgram for (bursts of thousands of
 * small datagrams before the kernel drops any). */
#define DEFAULT_SOCKET_BUFFER_BYTES (4 << 20)
/* Batches per wake of the loop: bounded so that a flooded socket cannot starve the rest of the
 * process (8 x 64 = 512 datagrams, then other handles get their turn). */
#define BATCHES_PER_WAKE 8
/* Answer cache bounds: at most this many templates / template bytes unless told otherwise
 * (0 = no cache). A full cache is emptied, then refilled by JavaScript's misses, as the
 * JavaScript cache does, so random names cannot grow it without bound. */
#define MAX_CACHE_ENTRIES 1000000
#define DEFAULT_CACHE_BYTES (32 << 20)
#define MAX_CACHE_BYTES (1u << 30)
/* DNS wire facts the cache's parser needs (RFC 1035, RFC 6891). */
#define DNS_HEADER_BYTES 12
#define DNS_MIN_QUERY_BYTES 17
#define DNS_MAX_NAME_BYTES 255
#define DNS_MAX_LABEL_BYTES 63
#define DNS_CLASSIC_UDP_BYTES 512
#define DNS_OPT_RECORD_BYTES 11
#define DNS_TYPE_OPT 41
#define DNS_CLASS_IN 1
/* inLengths[i] for a slot the cache answered: JavaScript skips it. */
#define SLOT_ANSWERED (-2)
/* An IP literal as text: the longest IPv6 form, '%', an interface name, the terminator. */
#define ADDRESS_TEXT_BYTES (INET6_ADDRSTRLEN + 1 + UV_IF_NAMESIZE + 1)

/* One cached answer: the template (lowercase question, ID 0, RD/CD clear) and where its
 * records end, so that a reply bigger than the client's UDP size can be cut after a whole
 * record. The key is the template's own question name and type. */
typedef struct cache_entry {
  struct cache_entry *next;
  uint32_t hash;
  uint32_t tpl_len;
  uint16_t name_end; /* offset past the question name = offset of QTYPE */
  uint16_t question_end;
  uint16_t answer_count, authority_count, additional_count;
  uint32_t record_count;
  uint32_t *record_ends; /* record_count offsets, stored after the struct */
  uint8_t *tpl;          /* tpl_len bytes, stored after record_ends */
} cache_entry_t;

typedef struct answer_cache {
  cache_entry_t **buckets; /* bucket_count (a power of two) chains; NULL until the first entry */
  uint32_t bucket_count;
  uint32_t max_entries;
  size_t max_bytes;
  uint32_t entries;
  size_t bytes;
  uint32_t generation; /* bumped each time the cache is emptied */
  /* Random per socket: a client cannot pick names that all land in one bucket chain. */
  uint32_t hash_seed;
} answer_cache_t;

typedef struct udp_socket {
  napi_env env;
  int fd;
  int family; /* AF_INET or AF_INET6 */
  uint32_t slots;
  uint32_t slot_bytes;
  size_t out_bytes;

  /* Shared with JavaScript; kept alive by the references below. */
  uint8_t *in;
  int32_t *in_len;
  uint8_t *out;
  int32_t *out_off;
  int32_t *out_len;
  napi_ref in_ref, out_ref, meta_ref;

  /* Per slot, C side only: the source address and the message headers. */
  struct sockaddr_storage *peers;
  struct mmsghdr *rx;
  struct iovec *rx_iov;
  struct mmsghdr *tx;
  struct iovec *tx_iov;

  uv_poll_t poll;
  bool polling;       /* poll handle initialised and not yet handed to uv_close */
  bool poll_closing;  /* uv_close called, its callback not yet run: memory must stay */
  bool wrapped;       /* the JavaScript object still exists (its finalizer has not run) */
  bool referenced;    /* keeps the loop alive (dgram's ref()/unref()) */
  int depth;          /* JavaScript calls in progress (close() from inside one defers detach) */
  bool detach_pending;

  napi_ref self;      /* the JavaScript object: strong while started, so it outlives polling */
  napi_ref on_batch;
  napi_ref on_error;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;

  answer_cache_t cache;

  double received, sent, dropped, truncated, batches, cache_hits;
} udp_socket_t;

/* ---------- errors ---------- */

/* A JS Error shaped like Node's own system errors: "bind EADDRINUSE 127.0.0.1:53", with code,
 * errno (negative, as libuv's), syscall and, when given, address and port. */
static napi_value errno_error(napi_env env, int err, const char *syscall, const char *address, int port) {
  const char *code = uv_err_name(-err);
  char message[256];
  if (address != NULL)
    snprintf(message, sizeof message, "%s %s %s:%d", syscall, code, address, port);
  else
    snprintf(message, sizeof message, "%s %s", syscall, code);
  napi_value msg, error, value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "code", value);
  napi_create_int32(env, -err, &value);
  napi_set_named_property(env, error, "errno", value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "syscall", value);
  if (address != NULL) {
    napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, error, "address", value);
    napi_create_int32(env, port, &value);
    napi_set_named_property(env, error, "port", value);
  }
  return error;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *address, int port) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw(env, errno_error(env, err, syscall, address, port));
  return NULL;
}

/* ---------- addresses ---------- */

/* Parses an IP literal (a `%scope` suffix allowed on IPv6) into a socket address of `family`;
 * an IPv4 literal on an IPv6 socket becomes its v4-mapped form, as dgram's udp6 sockets send. */
static bool parse_address(int family, const char *text, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    if (uv_ip4_addr(text, port, sin) != 0) return false;
    *len = sizeof *sin;
    return true;
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  if (strchr(text, ':') == NULL) {
    struct in_addr v4;
    if (inet_pton(AF_INET, text, &v4) != 1) return false;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    sin6->sin6_addr.s6_addr[10] = 0xff;
    sin6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&sin6->sin6_addr.s6_addr[12], &v4, 4);
  } else if (uv_ip6_addr(text, port, sin6) != 0) {
    return false;
  }
  *len = sizeof *sin6;
  return true;
}

/* An IPv6 address as text, with `%interface` for a scoped (link-local) one as Node writes it, so
 * that the text sends back to the same peer. */
static void ip6_text(const struct sockaddr_in6 *sin6, char *text, size_t size) {
  uv_ip6_name(sin6, text, size);
  if (sin6->sin6_scope_id == 0) return;
  char scope[UV_IF_NAMESIZE];
  size_t scope_size = sizeof scope;
  size_t used = strlen(text);
  if (uv_if_indextoname(sin6->sin6_scope_id, scope, &scope_size) == 0 && used + 1 + scope_size < size)
    snprintf(text + used, size - used, "%%%s", scope);
}

/* Formats a socket address as dgram's rinfo does: {address, port, family}. */
static napi_value address_object(napi_env env, const struct sockaddr_storage *ss) {
  char text[ADDRESS_TEXT_BYTES] = "";
  int port = 0;
  const char *family = "IPv4";
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    uv_ip4_name(sin, text, sizeof text);
    port = ntohs(sin->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    ip6_text(sin6, text, sizeof text);
    port = ntohs(sin6->sin6_port);
    family = "IPv6";
  }
  napi_value obj, value;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, obj, "address", value);
  napi_create_int32(env, port, &value);
  napi_set_named_property(env, obj, "port", value);
  napi_create_string_utf8(env, family, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, obj, "family", value);
  return obj;
}

/* ---------- lifetime ---------- */

static void cache_clear(answer_cache_t *c) {
  if (c->buckets != NULL) {
    for (uint32_t i = 0; i < c->bucket_count; i++) {
      cache_entry_t *e = c->buckets[i];
      while (e != NULL) {
        cache_entry_t *next = e->next;
        free(e);
        e = next;
      }
      c->buckets[i] = NULL;
    }
  }
  c->entries = 0;
  c->bytes = 0;
  c->generation++;
}

static void free_socket(udp_socket_t *s) {
  cache_clear(&s->cache);
  free(s->cache.buckets);
  free(s->peers);
  free(s->rx);
  free(s->rx_iov);
  free(s->tx);
  free(s->tx_iov);
  free(s);
}

/* Memory goes once both the JavaScript object and the poll handle are gone. */
static void maybe_free(udp_socket_t *s) {
  if (!s->wrapped && !s->poll_closing) free_socket(s);
}

static void release_cleanup_hook(udp_socket_t *s) {
  if (s->cleanup != NULL) {
    napi_remove_async_cleanup_hook(s->cleanup);
    s->cleanup = NULL;
  }
}

static void on_poll_closed(uv_handle_t *handle) {
  udp_socket_t *s = handle->data;
  s->poll_closing = false;
  /* Only now is the environment free to go: the loop no longer holds our handle. */
  release_cleanup_hook(s);
  maybe_free(s);
}

/* Stops polling and closes the descriptor; no JavaScript involved, so the environment's
 * teardown can call it too. Safe to repeat. */
static void shut(udp_socket_t *s) {
  if (s->polling) {
    s->polling = false;
    s->poll_closing = true;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  }
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  if (!s->poll_closing) release_cleanup_hook(s);
}

/* The environment is going away (process exit, worker terminated) with the socket open. */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *data) {
  shut((udp_socket_t *)data);
}

/* Releases what ties the socket to JavaScript: callbacks, async context, the strong self
 * reference. Only from a JavaScript call (close()). */
static void detach(udp_socket_t *s) {
  napi_env env = s->env;
  if (s->on_batch != NULL) {
    napi_delete_reference(env, s->on_batch);
    s->on_batch = NULL;
  }
  if (s->on_error != NULL) {
    napi_delete_reference(env, s->on_error);
    s->on_error = NULL;
  }
  if (s->async != NULL) {
    napi_async_destroy(env, s->async);
    s->async = NULL;
    uint32_t count = 0;
    napi_reference_unref(env, s->self, &count);
  }
}

static void finalize(napi_env env, void *data, void *hint) {
  udp_socket_t *s = data;
  shut(s);
  if (s->in_ref != NULL) napi_delete_reference(env, s->in_ref);
  if (s->out_ref != NULL) napi_delete_reference(env, s->out_ref);
  if (s->meta_ref != NULL) napi_delete_reference(env, s->meta_ref);
  if (s->on_batch != NULL) napi_delete_reference(env, s->on_batch);
  if (s->on_error != NULL) napi_delete_reference(env, s->on_error);
  if (s->self != NULL) napi_delete_reference(env, s->self);
  s->wrapped = false;
  maybe_free(s);
}

/* ---------- calling JavaScript from the loop ---------- */

/* Calls `fn` in the socket's async context (so promises and nextTicks it queues run after it,
 * as after any I/O callback). A thrown exception becomes an uncaught exception, as a throwing
 * dgram 'message' listener would; returns false then. */
static bool call_js(udp_socket_t *s, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, self, result;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return false;
  napi_get_reference_value(env, s->self, &self);
  s->depth++;
  napi_status status = napi_make_callback(env, s->async, self, fn, argc, argv, &result);
  s->depth--;
  /* close() ran inside the call: release the async context only now that it is left. */
  if (s->depth == 0 && s->detach_pending) {
    s->detach_pending = false;
    detach(s);
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
    return false;
  }
  return status == napi_ok;
}

static void report(udp_socket_t *s, int err, const char *syscall, const struct sockaddr_storage *to) {
  if (s->on_error == NULL) return;
  char text[ADDRESS_TEXT_BYTES] = "";
  int port = 0;
  if (to != NULL && to->ss_family == AF_INET) {
    uv_ip4_name((const struct sockaddr_in *)to, text, sizeof text);
    port = ntohs(((const struct sockaddr_in *)to)->sin_port);
  } else if (to != NULL && to->ss_family == AF_INET6) {
    ip6_text((const struct sockaddr_in6 *)to, text, sizeof text);
    port = ntohs(((const struct sockaddr_in6 *)to)->sin6_port);
  }
  napi_value error = errno_error(s->env, err, syscall, to != NULL ? text : NULL, port);
  call_js(s, s->on_error, 1, &error);
}

/* ---------- the batch loop ---------- */

/* One recvmmsg into the slots. Returns the datagram count; 0 when there is nothing to read. */
static int receive_batch(udp_socket_t *s) {
  for (uint32_t i = 0; i < s->slots; i++) {
    s->rx[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    s->rx[i].msg_hdr.msg_flags = 0;
  }
  int n;
  do n = recvmmsg(s->fd, s->rx, s->slots, MSG_DONTWAIT, NULL);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;
    /* An ICMP error queued by an earlier send surfaces here on some kernels: not fatal. */
    if (err != EAGAIN && err != EWOULDBLOCK) report(s, err, "recvmmsg", NULL);
    return 0;
  }
  for (int i = 0; i < n; i++) {
    if (s->rx[i].msg_hdr.msg_flags & MSG_TRUNC) {
      s->in_len[i] = -1;
      s->truncated++;
    } else {
      s->in_len[i] = (int32_t)s->rx[i].msg_len;
    }
    s->out_len[i] = 0;
  }
  s->received += n;
  return n;
}

/* Sends the replies JavaScript left for slots [0, n): one sendmmsg for all of them. */
static void transmit_batch(udp_socket_t *s, int n) {
  unsigned k = 0;
  for (int i = 0; i < n; i++) {
    int32_t len = s->out_len[i];
    if (len <= 0) continue;
    int32_t off = s->out_off[i];
    if (off < 0 || len > MAX_DATAGRAM_BYTES || (size_t)off + (size_t)len > s->out_bytes) {
      s->dropped++; /* a reply outside the out buffer: never read past it */
      continue;
    }
    s->tx_iov[k].iov_base = s->out + off;
    s->tx_iov[k].iov_len = (size_t)len;
    struct msghdr *h = &s->tx[k].msg_hdr;
    h->msg_name = &s->peers[i];
    h->msg_namelen = s->rx[i].msg_hdr.msg_namelen;
    h->msg_iov = &s->tx_iov[k];
    h->msg_iovlen = 1;
    h->msg_control = NULL;
    h->msg_controllen = 0;
    h->msg_flags = 0;
    k++;
  }
  unsigned done = 0;
  bool reported = false;
  while (done < k) {
    int r = sendmmsg(s->fd, s->tx + done, k - done, MSG_DONTWAIT);
    if (r > 0) {
      done += (unsigned)r;
      s->sent += r;
      continue;
    }
    int err = r < 0 ? errno : EAGAIN;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
      /* The kernel is full: drop the rest rather than hold them. */
      s->dropped += k - done;
      return;
    }
    /* This one datagram failed (unreachable, too big, filtered): report it once per batch, skip
     * it, and go on with the others. */
    s->dropped++;
    if (!reported) {
      reported = true;
      report(s, err, "sendmmsg", (const struct sockaddr_storage *)s->tx[done].msg_hdr.msg_name);
      if (s->fd < 0) return; /* closed by the error handler */
    }
    done++;
  }
}

/* ---------- the answer cache ---------- */

/* A seed from the kernel's random pool; if that fails, something that still differs per socket. */
static uint32_t random_seed(void) {
  uint32_t seed = 0;
  if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
    seed = (uint32_t)(uintptr_t)&seed ^ (uint32_t)uv_hrtime();
  return seed;
}

/* FNV-1a step; the cache's hash covers the lowercased name bytes (length octets included) and
 * the two QTYPE bytes. */
static inline uint32_t fnv_step(uint32_t h, uint8_t b) { return (h ^ b) * 0x01000193u; }
#define FNV_OFFSET 0x811c9dc5u

static inline uint8_t ascii_lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c; }

/* What the cache needs of a query. */
typedef struct fast_query {
  uint32_t hash;
  uint16_t name_end;
  bool edns;
  uint16_t edns_size;
  uint8_t edns_flags_high;
} fast_query_t;

/* Accepts exactly the queries the JavaScript server's fast path does (wire.ts parseQuery, then
 * class IN and EDNS version 0): QR=0, opcode QUERY, QDCOUNT 1, ANCOUNT and NSCOUNT 0, ARCOUNT 0
 * or 1 OPT record (root owner, type 41, its RDATA ending the datagram), an uncompressed name of
 * at most 255 bytes, nothing after the question otherwise. Anything else goes to JavaScript. */
static bool parse_fast_query(const uint8_t *m, int32_t len, uint32_t seed, fast_query_t *q) {
  if (len < DNS_MIN_QUERY_BYTES) return false;
  if ((m[2] & 0xf8) != 0) return false;
  if (m[4] != 0 || m[5] != 1 || m[6] != 0 || m[7] != 0 || m[8] != 0 || m[9] != 0 || m[10] != 0) return false;
  uint8_t arcount = m[11];
  if (arcount > 1) return false;
  int32_t off = DNS_HEADER_BYTES;
  uint32_t h = FNV_OFFSET ^ seed;
  for (;;) {
    if (off >= len) return false;
    uint8_t l = m[off++];
    h = fnv_step(h, l);
    if (l == 0) break;
    if (l > DNS_MAX_LABEL_BYTES || off + l > len) return false;
    for (int32_t i = 0; i < l; i++) h = fnv_step(h, ascii_lower(m[off + i]));
    off += l;
    if (off - DNS_HEADER_BYTES > DNS_MAX_NAME_BYTES) return false;
  }
  if (off + 4 > len) return false;
  if (m[off + 2] != 0 || m[off + 3] != DNS_CLASS_IN) return false;
  h = fnv_step(fnv_step(h, m[off]), m[off + 1]);
  int32_t qend = off + 4;
  q->hash = h;
  q->name_end = (uint16_t)off;
  q->edns = false;
  q->edns_size = 0;
  q->edns_flags_high = 0;
  if (arcount == 0) return qend == len;
  if (qend + DNS_OPT_RECORD_BYTES > len) return false;
  const uint8_t *opt = m + qend;
  if (opt[0] != 0 || opt[1] != 0 || opt[2] != DNS_TYPE_OPT) return false;
  int32_t rdlen = (opt[9] << 8) | opt[10];
  if (qend + DNS_OPT_RECORD_BYTES + rdlen != len) return false;
  if (opt[6] != 0) return false; /* EDNS version other than 0: BADVERS, JavaScript's answer */
  q->edns = true;
  q->edns_size = (uint16_t)((opt[3] << 8) | opt[4]);
  q->edns_flags_high = opt[7];
  return true;
}

static cache_entry_t *cache_find(const answer_cache_t *c, const uint8_t *m, const fast_query_t *q) {
  if (c->entries == 0) return NULL;
  for (cache_entry_t *e = c->buckets[q->hash & (c->bucket_count - 1)]; e != NULL; e = e->next) {
    if (e->hash != q->hash || e->name_end != q->name_end) continue;
    const uint8_t *t = e->tpl;
    uint16_t i = DNS_HEADER_BYTES;
    while (i < q->name_end && ascii_lower(m[i]) == t[i]) i++;
    if (i == q->name_end && t[i] == m[i] && t[i + 1] == m[i + 1]) return e;
  }
  return NULL;
}

static inline void put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* Writes the reply to query `m` from template `e` at `out` (room for `e->tpl_len` +
 * DNS_OPT_RECORD_BYTES) and returns its length. Mirrors the JavaScript server's `patch`: past
 * the client's UDP size (512, or its EDNS size if larger) keep the whole records that fit
 * (answers, then authority, then additional, up to the first that does not) and set TC when any
 * was left out; copy the ID, RD, CD and the question name bytes (case); echo the client's OPT
 * with its payload size, version 0, the upper flag byte (DO) kept, the lower one cleared and no
 * options. */
static uint32_t cache_patch(const cache_entry_t *e, const uint8_t *m, const fast_query_t *q, uint8_t *out) {
  uint32_t opt_bytes = q->edns ? DNS_OPT_RECORD_BYTES : 0;
  uint32_t limit = q->edns && q->edns_size > DNS_CLASSIC_UDP_BYTES ? q->edns_size : DNS_CLASSIC_UDP_BYTES;
  uint32_t body = e->tpl_len;
  bool truncated = false;
  uint32_t kept = 0;
  if (body + opt_bytes > limit) {
    uint32_t budget = limit - opt_bytes;
    while (kept < e->record_count && e->record_ends[kept] <= budget) kept++;
    body = kept > 0 ? e->record_ends[kept - 1] : e->question_end;
    truncated = kept < e->record_count;
  }
  memcpy(out, e->tpl, body);
  out[0] = m[0];
  out[1] = m[1];
  out[2] |= (uint8_t)((m[2] & 0x79) | (truncated ? 0x02 : 0)); /* opcode bits (0 here) and RD; TC */
  out[3] |= (uint8_t)(m[3] & 0x10);                              /* CD */
  memcpy(out + DNS_HEADER_BYTES, m + DNS_HEADER_BYTES, q->name_end - DNS_HEADER_BYTES);
  uint32_t arcount = e->additional_count;
  if (truncated) {
    uint32_t an = kept < e->answer_count ? kept : e->answer_count;
    uint32_t ns = kept - an < e->authority_count ? kept - an : e->authority_count;
    arcount = kept - an - ns;
    put16(out + 6, an);
    put16(out + 8, ns);
  }
  if (q->edns) arcount++;
  put16(out + 10, arcount);
  if (!q->edns) return body;
  uint8_t *opt = out + body;
  opt[0] = 0;
  put16(opt + 1, DNS_TYPE_OPT);
  put16(opt + 3, q->edns_size);
  opt[5] = 0;
  opt[6] = 0;
  opt[7] = q->edns_flags_high;
  opt[8] = 0;
  put16(opt + 9, 0);
  return body + DNS_OPT_RECORD_BYTES;
}

/* Answers every slot of the batch the cache can; returns how many slots are left for
 * JavaScript and sets `*used` to the out Buffer bytes taken. */
static int answer_from_cache(udp_socket_t *s, int n, size_t *used) {
  size_t pos = 0;
  int left = 0;
  for (int i = 0; i < n; i++) {
    int32_t len = s->in_len[i];
    if (len < 0) continue; /* cut off: JavaScript's to ignore */
    const uint8_t *m = s->in + (size_t)i * s->slot_bytes;
    fast_query_t q;
    cache_entry_t *e = NULL;
    if (parse_fast_query(m, len, s->cache.hash_seed, &q)) e = cache_find(&s->cache, m, &q);
    if (e == NULL || pos + e->tpl_len + DNS_OPT_RECORD_BYTES > s->out_bytes) {
      left++;
      continue;
    }
    uint32_t reply = cache_patch(e, m, &q, s->out + pos);
    s->out_off[i] = (int32_t)pos;
    s->out_len[i] = (int32_t)reply;
    s->in_len[i] = SLOT_ANSWERED;
    pos += reply;
    s->cache_hits++;
  }
  *used = pos;
  return left;
}

/* Checks a template as JavaScript encodes it (ID 0, QR set, QDCOUNT 1, a lowercase uncompressed
 * name, class IN, record ends inside it and in order) and stores it under its question. Returns
 * false for a template the cache cannot key or use. */
static bool cache_put(answer_cache_t *c, const uint8_t *tpl, size_t tpl_len, const uint32_t *ends, size_t count,
                      uint32_t question_end, uint32_t an, uint32_t ns, uint32_t ar) {
  if (c->max_entries == 0 || tpl_len > MAX_DATAGRAM_BYTES || question_end < DNS_MIN_QUERY_BYTES ||
      question_end > tpl_len || an + ns + ar != count || tpl[4] != 0 || tpl[5] != 1)
    return false;
  uint32_t h = FNV_OFFSET ^ c->hash_seed;
  uint32_t off = DNS_HEADER_BYTES;
  for (;;) {
    if (off >= question_end) return false;
    uint8_t l = tpl[off++];
    h = fnv_step(h, l);
    if (l == 0) break;
    if (l > DNS_MAX_LABEL_BYTES || off + l > question_end) return false;
    for (uint32_t i = 0; i < l; i++) {
      if (tpl[off + i] != ascii_lower(tpl[off + i])) return false; /* keys are lowercase */
      h = fnv_step(h, tpl[off + i]);
    }
    off += l;
    if (off - DNS_HEADER_BYTES > DNS_MAX_NAME_BYTES) return false;
  }
  if (off + 4 != question_end || tpl[off + 2] != 0 || tpl[off + 3] != DNS_CLASS_IN) return false;
  h = fnv_step(fnv_step(h, tpl[off]), tpl[off + 1]);
  uint32_t previous = question_end;
  for (size_t i = 0; i < count; i++) {
    if (ends[i] < previous || ends[i] > tpl_len) return false;
    previous = ends[i];
  }
  size_t size = sizeof(cache_entry_t) + count * sizeof(uint32_t) + tpl_len;
  if (size > c->max_bytes) return false;
  if (c->buckets == NULL) {
    uint32_t buckets = 1024;
    while (buckets < c->max_entries && buckets < (1u << 20)) buckets <<= 1;
    c->buckets = calloc(buckets, sizeof *c->buckets);
    if (c->buckets == NULL) return false;
    c->bucket_count = buckets;
  }
  /* Replace an entry for the same question. */
  cache_entry_t **link = &c->buckets[h & (c->bucket_count - 1)];
  for (; *link != NULL; link = &(*link)->next) {
    cache_entry_t *old = *link;
    if (old->hash == h && old->name_end == off && memcmp(old->tpl + DNS_HEADER_BYTES, tpl + DNS_HEADER_BYTES,
                                                         off + 2 - DNS_HEADER_BYTES) == 0) {
      *link = old->next;
      c->entries--;
      c->bytes -= sizeof(cache_entry_t) + old->record_count * sizeof(uint32_t) + old->tpl_len;
      free(old);
      break;
    }
  }
  if (c->entries >= c->max_entries || c->bytes + size > c->max_bytes) cache_clear(c);
  cache_entry_t *e = malloc(size);
  if (e == NULL) return false;
  e->hash = h;
  e->tpl_len = (uint32_t)tpl_len;
  e->name_end = (uint16_t)off;
  e->question_end = (uint16_t)question_end;
  e->answer_count = (uint16_t)an;
  e->authority_count = (uint16_t)ns;
  e->additional_count = (uint16_t)ar;
  e->record_count = (uint32_t)count;
  e->record_ends = (uint32_t *)(e + 1);
  e->tpl = (uint8_t *)(e->record_ends + count);
  if (count > 0) memcpy(e->record_ends, ends, count * sizeof(uint32_t));
  memcpy(e->tpl, tpl, tpl_len);
  cache_entry_t **head = &c->buckets[h & (c->bucket_count - 1)];
  e->next = *head;
  *head = e;
  c->entries++;
  c->bytes += size;
  return true;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  udp_socket_t *s = handle->data;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (status < 0) {
    report(s, -status, "poll", NULL);
  } else {
    for (int batch = 0; batch < BATCHES_PER_WAKE && s->fd >= 0 && s->on_batch != NULL; batch++) {
      int n = receive_batch(s);
      if (n == 0) break;
      s->batches++;
      size_t used = 0;
      int left = s->cache.entries > 0 ? answer_from_cache(s, n, &used) : n;
      if (left > 0) {
        napi_value args[2];
        napi_create_int32(env, n, &args[0]);
        napi_create_double(env, (double)used, &args[1]);
        bool ok = call_js(s, s->on_batch, 2, args);
        if (s->fd < 0) break; /* closed from the callback: the replies go nowhere */
        if (!ok) {
          /* The exception is on its way to the process; the replies already made still go out. */
          transmit_batch(s, n);
          break;
        }
      }
      transmit_batch(s, n);
      /* A short batch drained the socket: skip the recvmmsg that would only say EAGAIN. */
      if ((uint32_t)n < s->slots) break;
    }
  }
  napi_close_handle_scope(env, scope);
}

/* ---------- JavaScript methods ---------- */

static udp_socket_t *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    svcroute_throw(env, "UdpBatchSocket method called on a foreign object");
    return NULL;
  }
  return data;
}

static bool get_uint_option(napi_env env, napi_value options, const char *name, uint32_t fallback,
                            uint32_t min, uint32_t max, uint32_t *out) {
  bool has = false;
  napi_has_named_property(env, options, name, &has);
  napi_value value;
  napi_valuetype type = napi_undefined;
  if (has) {
    napi_get_named_property(env, options, name, &value);
    napi_typeof(env, value, &type);
  }
  if (type == napi_undefined) {
    *out = fallback;
    return true;
  }
  double d = 0;
  /* Range first (NaN fails it too): converting an out-of-range double to an integer is undefined. */
  if (type != napi_number || napi_get_value_double(env, value, &d) != napi_ok || !(d >= min && d <= max) ||
      d != (double)(uint32_t)d) {
    char message[128];
    snprintf(message, sizeof message, "UdpBatchSocket option %s must be an integer in [%u, %u]", name, min, max);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

static bool set_buffer_size(int fd, int option, uint32_t bytes) {
  int value = (int)bytes;
  return setsockopt(fd, SOL_SOCKET, option, &value, sizeof value) == 0;
}

static napi_value define_value(napi_env env, napi_value obj, const char *name, napi_value value) {
  napi_property_descriptor d = {name, NULL, NULL, NULL, NULL, value, napi_enumerable, NULL};
  napi_define_properties(env, obj, 1, &d);
  return value;
}

/* new UdpBatchSocket({ address, port, slots?, slotBytes?, outBytes?, recvBufferBytes?,
 *                      sendBufferBytes?, cacheEntries?, cacheBytes? }): opens and binds at once;
 * throws bind errors. */
static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_object) return svcroute_throw(env, "UdpBatchSocket needs an options object");
  napi_value options = argv[0];

  char address[ADDRESS_TEXT_BYTES];
  napi_value value;
  size_t length = 0;
  napi_get_named_property(env, options, "address", &value);
  if (napi_get_value_string_utf8(env, value, address, sizeof address, &length) != napi_ok ||
      length >= sizeof address - 1)
    return svcroute_throw(env, "UdpBatchSocket option address must be an IP address string");
  uint32_t port, slots, slot_bytes, out_bytes, rcvbuf, sndbuf, cache_entries, cache_bytes;
  if (!get_uint_option(env, options, "port", 0, 0, 65535, &port) ||
      !get_uint_option(env, options, "slots", DEFAULT_SLOTS, 1, MAX_SLOTS, &slots) ||
      !get_uint_option(env, options, "slotBytes", DEFAULT_SLOT_BYTES, MIN_SLOT_BYTES, DEFAULT_SLOT_BYTES,
                       &slot_bytes) ||
      !get_uint_option(env, options, "outBytes", slots * MAX_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES,
                       MAX_SLOTS * MAX_DATAGRAM_BYTES, &out_bytes) ||
      !get_uint_option(env, options, "recvBufferBytes", DEFAULT_SOCKET_BUFFER_BYTES, 0, INT32_MAX, &rcvbuf) ||
      !get_uint_option(env, options, "sendBufferBytes", DEFAULT_SOCKET_BUFFER_BYTES, 0, INT32_MAX, &sndbuf) ||
      !get_uint_option(env, options, "cacheEntries", 0, 0, MAX_CACHE_ENTRIES, &cache_entries) ||
      !get_uint_option(env, options, "cacheBytes", DEFAULT_CACHE_BYTES, 0, MAX_CACHE_BYTES, &cache_bytes))
    return NULL;

  struct sockaddr_storage bind_to;
  socklen_t bind_len = 0;
  int family = strchr(address, ':') != NULL ? AF_INET6 : AF_INET;
  if (!parse_address(family, address, (int)port, &bind_to, &bind_len)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "UdpBatchSocket option address must be an IP literal");
    return NULL;
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", NULL, 0);
  /* As dgram: buffer sizes are requests the kernel caps at its rmem_max/wmem_max. */
  if ((rcvbuf > 0 && !set_buffer_size(fd, SO_RCVBUF, rcvbuf)) ||
      (sndbuf > 0 && !set_buffer_size(fd, SO_SNDBUF, sndbuf))) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "setsockopt", NULL, 0);
  }
  if (bind(fd, (struct sockaddr *)&bind_to, bind_len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind", address, (int)port);
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &bound_len);

  udp_socket_t *s = calloc(1, sizeof *s);
  if (s != NULL) {
    s->peers = calloc(slots, sizeof *s->peers);
    s->rx = calloc(slots, sizeof *s->rx);
    s->rx_iov = calloc(slots, sizeof *s->rx_iov);
    s->tx = calloc(slots, sizeof *s->tx);
    s->tx_iov = calloc(slots, sizeof *s->tx_iov);
  }
  if (s == NULL || !s->peers || !s->rx || !s->rx_iov || !s->tx || !s->tx_iov) {
    close(fd);
    if (s != NULL) free_socket(s);
    return throw_errno(env, ENOMEM, "socket", NULL, 0);
  }
  s->env = env;
  s->fd = fd;
  s->family = family;
  s->slots = slots;
  s->slot_bytes = slot_bytes;
  s->out_bytes = out_bytes;
  s->referenced = true;
  s->cache.max_entries = cache_entries;
  s->cache.hash_seed = random_seed();
  s->cache.max_bytes = cache_bytes;

  napi_value in_buf, out_buf, meta, in_len, out_off, out_len;
  void *in_data, *out_data, *meta_data;
  if (napi_create_buffer(env, (size_t)slots * slot_bytes, &in_data, &in_buf) != napi_ok ||
      napi_create_buffer(env, out_bytes, &out_data, &out_buf) != napi_ok ||
      napi_create_arraybuffer(env, (size_t)slots * 3 * sizeof(int32_t), &meta_data, &meta) != napi_ok) {
    close(fd);
    free_socket(s);
    return svcroute_throw(env, "UdpBatchSocket: cannot allocate its buffers");
  }
  napi_create_typedarray(env, napi_int32_array, slots, meta, 0, &in_len);
  napi_create_typedarray(env, napi_int32_array, slots, meta, slots * sizeof(int32_t), &out_off);
  napi_create_typedarray(env, napi_int32_array, slots, meta, 2 * slots * sizeof(int32_t), &out_len);
  s->in = in_data;
  s->out = out_data;
  s->in_len = meta_data;
  s->out_off = s->in_len + slots;
  s->out_len = s->in_len + 2 * slots;
  napi_create_reference(env, in_buf, 1, &s->in_ref);
  napi_create_reference(env, out_buf, 1, &s->out_ref);
  napi_create_reference(env, meta, 1, &s->meta_ref);

  for (uint32_t i = 0; i < slots; i++) {
    s->rx_iov[i].iov_base = s->in + (size_t)i * slot_bytes;
    s->rx_iov[i].iov_len = slot_bytes;
    s->rx[i].msg_hdr.msg_name = &s->peers[i];
    s->rx[i].msg_hdr.msg_iov = &s->rx_iov[i];
    s->rx[i].msg_hdr.msg_iovlen = 1;
  }

  if (napi_wrap(env, self, s, finalize, NULL, &s->self) != napi_ok) {
    close(fd);
    napi_delete_reference(env, s->in_ref);
    napi_delete_reference(env, s->out_ref);
    napi_delete_reference(env, s->meta_ref);
    free_socket(s);
    return svcroute_throw(env, "UdpBatchSocket: cannot wrap its object");
  }
  s->wrapped = true;
  napi_add_async_cleanup_hook(env, on_env_cleanup, s, &s->cleanup);

  char bound_text[ADDRESS_TEXT_BYTES] = "";
  int bound_port = 0;
  if (bound.ss_family == AF_INET6) {
    ip6_text((struct sockaddr_in6 *)&bound, bound_text, sizeof bound_text);
    bound_port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
  } else {
    uv_ip4_name((struct sockaddr_in *)&bound, bound_text, sizeof bound_text);
    bound_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  }
  napi_create_string_utf8(env, bound_text, NAPI_AUTO_LENGTH, &value);
  define_value(env, self, "address", value);
  napi_create_int32(env, bound_port, &value);
  define_value(env, self, "port", value);
  napi_create_string_utf8(env, family == AF_INET6 ? "IPv6" : "IPv4", NAPI_AUTO_LENGTH, &value);
  define_value(env, self, "family", value);
  napi_create_uint32(env, slots, &value);
  define_value(env, self, "slots", value);
  napi_create_uint32(env, slot_bytes, &value);
  define_value(env, self, "slotBytes", value);
  define_value(env, self, "inBuffer", in_buf);
  define_value(env, self, "inLengths", in_len);
  define_value(env, self, "outBuffer", out_buf);
  define_value(env, self, "outOffsets", out_off);
  define_value(env, self, "outLengths", out_len);
  return self;
}

/* start(onBatch(count), onError(err)): begins polling; once only, and not after close(). */
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  udp_socket_t *s = unwrap_this(env, info, &argc, argv);
  if (s == NULL) return NULL;
  if (s->fd < 0) return svcroute_throw(env, "UdpBatchSocket is closed");
  if (s->async != NULL) return svcroute_throw(env, "UdpBatchSocket already started");
  napi_valuetype t0 = napi_undefined, t1 = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t0);
  if (argc >= 2) napi_typeof(env, argv[1], &t1);
  if (t0 != napi_function || t1 != napi_function)
    return svcroute_throw(env, "UdpBatchSocket.start(onBatch, onError) needs two functions");
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL)
    return svcroute_throw(env, "UdpBatchSocket: no event loop");
  int rc = uv_poll_init(loop, &s->poll, s->fd);
  if (rc != 0) return throw_errno(env, -rc, "uv_poll_init", NULL, 0);
  s->poll.data = s;
  s->polling = true;
  if (!s->referenced) uv_unref((uv_handle_t *)&s->poll);
  rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    shut(s);
    return throw_errno(env, -rc, "uv_poll_start", NULL, 0);
  }
  napi_value name;
  napi_create_string_utf8(env, "svcroute:UdpBatchSocket", NAPI_AUTO_LENGTH, &name);
  napi_value self;
  napi_get_reference_value(env, s->self, &self);
  napi_async_init(env, self, name, &s->async);
  napi_create_reference(env, argv[0], 1, &s->on_batch);
  napi_create_reference(env, argv[1], 1, &s->on_error);
  uint32_t count = 0;
  napi_reference_ref(env, s->self, &count);
  return NULL;
}

/* peer(slot): the source {address, port, family} of slot `slot` of the current batch. */
static napi_value peer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  udp_socket_t *s = unwrap_this(env, info, &argc, argv);
  if (s == NULL) return NULL;
  uint32_t slot = 0;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &slot) != napi_ok || slot >= s->slots) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "UdpBatchSocket.peer: slot out of range");
    return NULL;
  }
  return address_object(env, &s->peers[slot]);
}

/* send(buffer, offset, length, address, port) -> true when sent, false when dropped because the
 * kernel's buffer is full; throws on other send errors and on bad arguments. */
static napi_value send_one(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  udp_socket_t *s = unwrap_this(env, info, &argc, argv);
  if (s == NULL) return NULL;
  if (s->fd < 0) return svcroute_throw(env, "UdpBatchSocket is closed");
  if (argc < 5) return svcroute_throw(env, "UdpBatchSocket.send(buffer, offset, length, address, port)");
  bool is_typed = false;
  napi_is_typedarray(env, argv[0], &is_typed);
  if (!is_typed) return svcroute_throw(env, "UdpBatchSocket.send: buffer must be a Uint8Array");
  napi_typedarray_type ta_type;
  size_t ta_length = 0, ta_offset = 0;
  void *data = NULL;
  napi_get_typedarray_info(env, argv[0], &ta_type, &ta_length, &data, NULL, &ta_offset);
  uint32_t offset = 0, length = 0, port = 0;
  char address[ADDRESS_TEXT_BYTES];
  size_t address_length = 0;
  if (ta_type != napi_uint8_array || napi_get_value_uint32(env, argv[1], &offset) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &length) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &port) != napi_ok || (size_t)offset + length > ta_length ||
      length > MAX_DATAGRAM_BYTES || port > 65535 ||
      napi_get_value_string_utf8(env, argv[3], address, sizeof address, &address_length) != napi_ok ||
      address_length >= sizeof address - 1) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "UdpBatchSocket.send: bad buffer range, address or port");
    return NULL;
  }
  struct sockaddr_storage to;
  socklen_t to_len = 0;
  if (!parse_address(s->family, address, (int)port, &to, &to_len))
    return throw_errno(env, EINVAL, "send", address, (int)port);
  ssize_t r;
  do r = sendto(s->fd, (uint8_t *)data + offset, length, MSG_DONTWAIT, (struct sockaddr *)&to, to_len);
  while (r < 0 && errno == EINTR);
  napi_value result;
  if (r >= 0) {
    s->sent++;
    napi_get_boolean(env, true, &result);
    return result;
  }
  int err = errno;
  s->dropped++;
  if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  return throw_errno(env, err, "send", address, (int)port);
}

/* obj[name] = value, for counters (numbers up to 2^53 are exact in JavaScript). */
static void set_number(napi_env env, napi_value obj, const char *name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

/* stats(): the socket's counters since it opened, and the answer cache's size. */
static napi_value stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  udp_socket_t *s = unwrap_this(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  napi_value obj;
  napi_create_object(env, &obj);
  set_number(env, obj, "received", s->received);
  set_number(env, obj, "sent", s->sent);
  set_number(env, obj, "dropped", s->dropped);
  set_number(env, obj, "truncated", s->truncated);
  set_number(env, obj, "batches", s->batches);
  set_number(env, obj, "cacheHits", s->cache_hits);
  set_number(env, obj, "cacheEntries", s->cache.entries);
  set_number(env, obj, "cacheBytes", (double)s->cache.bytes);
  return obj;
}

/* cacheSet(template, recordEnds, questionEnd, answerCount, authorityCount, additionalCount)
 * -> the cache's generation when stored (it changes each time the cache is emptied), -1 when
 * the cache is off or cannot use the template. `recordEnds` is a Uint32Array. */
static napi_value cache_set(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  udp_socket_t *s = unwrap_this(env, info, &argc, argv);
  if (s == NULL) return NULL;
  bool is_buffer = false, is_typed = false;
  if (argc == 6) {
    napi_is_typedarray(env, argv[0], &is_buffer);
    napi_is_typedarray(env, argv[1], &is_typed);
  }
  napi_typedarray_type t0 = napi_int8_array, t1 = napi_int8_array;
  size_t tpl_len = 0, count = 0;
  void *tpl = NULL, *ends = NULL;
  if (is_buffer) napi_get_typedarray_info(env, argv[0], &t0, &tpl_len, &tpl, NULL, NULL);
  if (is_typed) napi_get_typedarray_info(env, argv[1], &t1, &count, &ends, NULL, NULL);
  uint32_t numbers[4];
  bool ok = is_buffer && is_typed && t0 == napi_uint8_array && t1 == napi_uint32_array;
  for (int i = 0; ok && i < 4; i++) ok = napi_get_value_uint32(env, argv[2 + i], &numbers[i]) == napi_ok;
  if (!ok)
    return svcroute_throw(env, "UdpBatchSocket.cacheSet(template: Uint8Array, recordEnds: Uint32Array, "
                               "questionEnd, answerCount, authorityCount, additionalCount)");
  napi_value result;
  bool stored = tpl_len > 0 && cache_put(&s->cache, tpl, tpl_len, ends, count, numbers[0], numbers[1],
                                         numbers[2], numbers[3]);
  napi_create_double(env, stored ? (double)s->cache.generation : -1, &result);
  return result;
}

/* cacheClear(): forgets every cached answer. */
static napi_value cache_clear_js(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  udp_socket_t *s = unwrap_this(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  cache_clear(&s->cache);
  return NULL;
}

static napi_value set_ref(napi_env env, napi_callback_info info, bool referenced) {
  size_t argc = 0;
  udp_socket_t *s = unwrap_this(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  s->referenced = referenced;
  if (s->polling) {
    if (referenced) uv_ref((uv_handle_t *)&s->poll);
    else uv_unref((uv_handle_t *)&s->poll);
  }
  return NULL;
}

static napi_value ref(napi_env env, napi_callback_info info) { return set_ref(env, info, true); }
static napi_value unref(napi_env env, napi_callback_info info) { return set_ref(env, info, false); }

/* close(): stops polling and closes the socket at once; safe to call again, and from onBatch. */
static napi_value close_socket(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  udp_socket_t *s = unwrap_this(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  shut(s);
  if (s->depth > 0) s->detach_pending = true;
  else detach(s);
  return NULL;
}

napi_value svcroute_udp_init(napi_env env) {
  napi_property_descriptor methods[] = {
      {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
      {"peer", NULL, peer, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, send_one, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, stats, NULL, NULL, NULL, napi_default, NULL},
      {"cacheSet", NULL, cache_set, NULL, NULL, NULL, napi_default, NULL},
      {"cacheClear", NULL, cache_clear_js, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, ref, NULL, NULL, NULL, napi_default, NULL},
      {"unref", NULL, unref, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls, part;
  if (napi_define_class(env, "UdpBatchSocket", NAPI_AUTO_LENGTH, construct, NULL,
                        sizeof methods / sizeof methods[0], methods, &cls) != napi_ok)
    return NULL;
  if (napi_create_object(env, &part) != napi_ok) return NULL;
  napi_set_named_property(env, part, "UdpBatchSocket", cls);
  return part;
}
