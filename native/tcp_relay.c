/*
 * The TCP relay engine of the userspace proxy: accept, connect and relay in C, on Node's own
 * event loop, so that a proxied connection costs two sockets' system calls and nothing of
 * Node's per-socket stream machinery.
 *
 * Design:
 * - Each engine owns an epoll instance of its own, watched by ONE uv_poll_t in Node's loop.
 *   Sockets are registered once, edge-triggered for both directions, and removed by close():
 *   two epoll_ctl calls per proxied connection instead of libuv's add/modify/delete per socket
 *   and per interest change.
 * - JavaScript decides, natively nothing is decided: per accepted connection one call picks an
 *   endpoint (a handle registered beforehand); a failed attempt calls again (retry or give up).
 *   Connections whose balancer wants outcomes are "tracked": they also report connect and close.
 * - Relay: recv into one per-engine scratch buffer and send at once; only the unsent remainder of
 *   a partial send is kept (per connection, at most one read), and its source is not read again
 *   until it drained. Idle connections hold no buffer.
 * - Counters live in "slots" (one per listener, one per endpoint handle) as deltas that
 *   JavaScript collects when metrics are read; a slot is freed once released, unused, and its
 *   last deltas were collected, so its id is never reused while JavaScript may still refer to it.
 * - Timers: one uv_timer for deadlines (connect timeouts, drain deadlines), one for the idle
 *   sweep; a uv_idle continues reads cut short by the per-wake budget.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "addon.h"

/* One read's size, and the most a connection ever keeps buffered per direction: 64 KiB. */
#define SCRATCH_BYTES (64 * 1024)
/* Reads per socket per wake before other sockets get their turn: 8 (512 KiB). */
#define READS_PER_WAKE 8
/* Accepted connections per listener per wake: 64, so a connection flood cannot starve relays. */
#define ACCEPTS_PER_WAKE 64
/* epoll events fetched per wake. */
#define EVENTS_PER_WAKE 256
/* Connect timeouts given by JavaScript, at most this many attempts' worth. */
#define MAX_TIMEOUTS 64

/*
 * Interest of a relayed socket, registered once, edge-triggered. EPOLLPRI adds no wake-up (urgent
 * data wakes the socket as any data does); it only marks events whose reads may stop short.
 */
#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET)

/* Event kinds passed to the JavaScript callback. */
enum { EV_ACCEPT = 0, EV_FAILED = 1, EV_CONNECTED = 2, EV_CLOSED = 3 };
/* Tags in the low bits of epoll data pointers (structs are at least 8-byte aligned). */
enum { TAG_CLIENT = 0, TAG_UPSTREAM = 1, TAG_LISTENER = 2, TAG_MASK = 3 };
enum { ST_CONNECTING = 0, ST_RELAY = 1, ST_CLOSED = 2 };
/* Counter indexes of a slot. */
enum { C_ACTIVE, C_TOTAL, C_TO_ENDPOINT, C_TO_CLIENT, C_ERRORS, C_COUNT };
/* Numbers per slot in collect()'s output: id, dead flag, then the counters. */
#define COLLECT_STRIDE (2 + C_COUNT)

typedef struct engine engine_t;

typedef struct slot {
  bool used;
  bool released; /* JavaScript no longer refers new work to it */
  bool listener;
  bool drain_armed;
  uint32_t refs; /* connections using it, plus 1 for an open listener */
  uint64_t drain_at;
  int64_t delta[C_COUNT];
  struct sockaddr_storage addr; /* endpoint address */
  socklen_t addr_len;
} slot_t;

typedef struct dir {
  char *buf; /* unsent bytes of a partial send, or NULL */
  uint32_t off, len;
  bool eof;  /* the source sent FIN */
  bool shut; /* FIN passed on to the destination */
  bool more; /* the source may still hold data (read budget ran out) */
  bool hup;  /* epoll reported FIN, reset or error on the source: read to the end */
  bool urgent; /* epoll reported urgent data on the source: read until EAGAIN (see pump) */
} dir_t;

typedef struct conn {
  engine_t *e;
  struct conn *prev, *next;       /* engine's list of open connections */
  struct conn *next_zombie;
  struct conn *next_again;
  double id;
  uint32_t lslot, eslot;
  int cfd, ufd;
  uint8_t state;
  uint8_t attempt;
  bool tracked;
  bool connected_once;
  bool activity;
  bool in_again;
  uint32_t idle_sweeps;
  uint64_t connect_deadline;
  dir_t c2u, u2c;
} conn_t;

typedef struct listener {
  engine_t *e;
  struct listener *next;
  struct listener *next_zombie;
  int fd;
  uint32_t slot;
  bool want_ip;
  bool closed;
} listener_t;

struct engine {
  napi_env env;
  uv_loop_t *loop;
  int epfd;
  /* A spare descriptor: freed to accept-and-close a connection when out of descriptors, so a
   * level-triggered listener does not spin on EMFILE (libuv's trick for its own servers). */
  int reserve_fd;
  uv_poll_t poll;
  uv_timer_t deadline_timer;
  uv_timer_t idle_timer;
  uv_idle_t again_idle;
  int open_handles;
  napi_async_cleanup_hook_handle cleanup_handle; /* NULL once removed */
  bool closed;     /* closeEngine or env teardown: no more JS calls, no more work */
  bool closing;    /* engine_close is running (it may call JavaScript, which may call it again) */
  bool env_gone;
  bool freed_js;   /* the JS object was collected */
  bool in_batch;
  bool in_wake;     /* inside one of our libuv callbacks: JS calls need a callback scope */
  bool scopes_open; /* that scope (and a handle scope) is open for this wake */
  napi_handle_scope wake_hs;
  napi_callback_scope wake_cs;
  bool deadline_armed;
  uint64_t deadline_at;
  napi_ref callback;
  napi_ref resource;
  napi_async_context async_ctx;
  slot_t *slots;
  uint32_t nslots;
  conn_t *conns;
  uint32_t nconns;
  uint32_t nconnecting;
  listener_t *listeners;
  uint32_t nlisteners;
  conn_t *zombies;
  listener_t *zombie_listeners;
  conn_t *again;
  double next_id;
  uint32_t timeouts_ms[MAX_TIMEOUTS];
  uint32_t ntimeouts;
  uint64_t idle_ms;
  uint32_t idle_limit;
  bool idle_running;
  char scratch[SCRATCH_BYTES];
};

/* ---------- slots ---------- */

static int64_t slot_alloc(engine_t *e) {
  for (uint32_t i = 0; i < e->nslots; i++)
    if (!e->slots[i].used) {
      memset(&e->slots[i], 0, sizeof(slot_t));
      e->slots[i].used = true;
      return i;
    }
  uint32_t n = e->nslots ? e->nslots * 2 : 16;
  slot_t *grown = realloc(e->slots, (size_t)n * sizeof(slot_t));
  if (grown == NULL) return -1;
  memset(grown + e->nslots, 0, (size_t)(n - e->nslots) * sizeof(slot_t));
  e->slots = grown;
  uint32_t id = e->nslots;
  e->nslots = n;
  e->slots[id].used = true;
  return id;
}

static inline slot_t *slot_at(engine_t *e, uint32_t id) {
  return id < e->nslots && e->slots[id].used ? &e->slots[id] : NULL;
}

/* ---------- epoll / liveness ---------- */

static void update_ref(engine_t *e) {
  /* Open listeners or connections keep the process alive, as Node's own sockets would. */
  if (e->closed) return;
  if (e->nlisteners > 0 || e->nconns > 0) uv_ref((uv_handle_t *)&e->poll);
  else uv_unref((uv_handle_t *)&e->poll);
}

static int ep_add(engine_t *e, int fd, void *ptr, uint32_t events) {
  struct epoll_event ev;
  ev.events = events;
  ev.data.ptr = ptr;
  return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void arm_deadline(engine_t *e, uint64_t at);

/* ---------- JavaScript calls ---------- */

/*
 * Calls the engine's callback with `argc` numbers (and an optional string as the last
 * argument); returns the number it answered, or -1 when it threw (the exception is raised as
 * an uncaught exception, never swallowed) or answered something else.
 */
static double call_js(engine_t *e, int kind, double id, double a, double b, double c, double d,
                      const char *str) {
  if (e->closed || e->env_gone) return -1;
  napi_env env = e->env;
  if (e->in_wake && !e->scopes_open) {
    /* Opened at the first call of a wake only: most wakes only move bytes. One callback scope
     * per wake also runs the microtasks and ticks these calls queue once, at its end. */
    napi_value resource;
    if (napi_open_handle_scope(env, &e->wake_hs) != napi_ok) return -1;
    napi_get_reference_value(env, e->resource, &resource);
    if (napi_open_callback_scope(env, resource, e->async_ctx, &e->wake_cs) != napi_ok) {
      napi_close_handle_scope(env, e->wake_hs);
      return -1;
    }
    e->scopes_open = true;
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return -1;
  napi_value fn, recv, argv[7], result;
  double out = -1;
  napi_get_reference_value(env, e->callback, &fn);
  napi_get_undefined(env, &recv);
  napi_create_int32(env, kind, &argv[0]);
  napi_create_double(env, id, &argv[1]);
  napi_create_double(env, a, &argv[2]);
  napi_create_double(env, b, &argv[3]);
  napi_create_double(env, c, &argv[4]);
  napi_create_double(env, d, &argv[5]);
  size_t argc = 6;
  if (str != NULL) napi_create_string_utf8(env, str, NAPI_AUTO_LENGTH, &argv[argc++]);
  napi_status st = napi_call_function(env, recv, fn, argc, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  } else if (st == napi_ok) {
    napi_valuetype t;
    if (napi_typeof(env, result, &t) == napi_ok && t == napi_number) napi_get_value_double(env, result, &out);
  }
  napi_close_handle_scope(env, scope);
  return out;
}

/* ---------- connections ---------- */

static void conn_free_now(conn_t *c) {
  free(c->c2u.buf);
  free(c->u2c.buf);
  free(c);
}

static void slot_unref(engine_t *e, uint32_t id) {
  slot_t *s = slot_at(e, id);
  if (s != NULL && s->refs > 0) s->refs--;
}

/*
 * Takes a socket out of epoll, then closes it. close() alone drops the registration only when no
 * other copy of the descriptor exists; a child forked by another thread holds copies until it
 * execs, and an event for the closed socket would then name memory already freed.
 */
static void unwatch_and_close(engine_t *e, int fd) {
  if (e->epfd >= 0) epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
}

/* Closes both sockets; `reset` sends RST to the client (refused), `error` counts an error. */
static void conn_close(conn_t *c, bool reset, bool error) {
  engine_t *e = c->e;
  if (c->state == ST_CLOSED) return;
  bool was_connecting = c->state == ST_CONNECTING;
  c->state = ST_CLOSED;
  if (was_connecting) e->nconnecting--;
  if (reset) {
    struct linger lg = {1, 0};
    setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  unwatch_and_close(e, c->cfd);
  if (c->ufd >= 0) unwatch_and_close(e, c->ufd);
  c->cfd = c->ufd = -1;
  slot_t *ls = slot_at(e, c->lslot);
  if (ls != NULL) {
    ls->delta[C_ACTIVE]--;
    if (error) ls->delta[C_ERRORS]++;
  }
  slot_t *es = c->eslot != UINT32_MAX ? slot_at(e, c->eslot) : NULL;
  if (es != NULL && !was_connecting) {
    es->delta[C_ACTIVE]--;
    if (error) es->delta[C_ERRORS]++;
  }
  slot_unref(e, c->lslot);
  if (c->eslot != UINT32_MAX) slot_unref(e, c->eslot);
  if (c->prev) c->prev->next = c->next;
  else e->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  e->nconns--;
  if (c->tracked) call_js(e, EV_CLOSED, c->id, c->lslot, c->eslot == UINT32_MAX ? -1.0 : (double)c->eslot, 0, 0, NULL);
  /* Events of this batch may still point at it: freed after the batch. One on the again list
   * is freed by that list's pass. */
  if (c->in_again) {
    /* the again pass frees it */
  } else if (e->in_batch) {
    c->next_zombie = e->zombies;
    e->zombies = c;
  } else {
    conn_free_now(c);
  }
  update_ref(e);
}

static void start_connect(conn_t *c, uint32_t eslot);

/* JavaScript's answer: an endpoint handle * 2 + tracked flag, or negative to refuse. */
static void apply_answer(conn_t *c, double answer) {
  engine_t *e = c->e;
  if (c->state == ST_CLOSED) return;
  /* Anything but an encoded handle (NaN, negative, too large for one) refuses. */
  if (e->closed || !(answer >= 0 && answer < 8589934592.0)) {
    conn_close(c, true, false);
    return;
  }
  uint64_t a = (uint64_t)answer;
  if (a & 1) c->tracked = true;
  uint32_t eslot = (uint32_t)(a >> 1);
  slot_t *s = slot_at(e, eslot);
  if (s == NULL || s->listener || s->released) {
    conn_close(c, true, false);
    return;
  }
  start_connect(c, eslot);
}

static void connect_failed(conn_t *c, int err) {
  engine_t *e = c->e;
  uint32_t failed = c->eslot;
  unwatch_and_close(e, c->ufd);
  c->ufd = -1;
  slot_unref(e, failed);
  c->eslot = UINT32_MAX;
  c->attempt++;
  double answer = call_js(e, EV_FAILED, c->id, c->lslot, failed, c->attempt, -err, NULL);
  apply_answer(c, answer);
}

static uint32_t timeout_for(engine_t *e, uint32_t attempt) {
  if (e->ntimeouts == 0) return 1000;
  return e->timeouts_ms[attempt < e->ntimeouts ? attempt : e->ntimeouts - 1];
}

static void pump(conn_t *c, dir_t *d, bool from_client);

static void on_connected(conn_t *c) {
  engine_t *e = c->e;
  c->state = ST_RELAY;
  e->nconnecting--;
  c->connected_once = true;
  slot_t *es = slot_at(e, c->eslot);
  if (es != NULL) {
    es->delta[C_ACTIVE]++;
    es->delta[C_TOTAL]++;
    /* Removed while connecting: it goes when the drain deadline of its endpoint comes. */
    if (es->drain_armed) arm_deadline(e, es->drain_at);
  }
  if (c->tracked) call_js(e, EV_CONNECTED, c->id, c->lslot, c->eslot, 0, 0, NULL);
  if (c->state == ST_CLOSED) return;
  /* What the client sent while the endpoint connected waits in its socket. */
  pump(c, &c->c2u, true);
  if (c->state == ST_CLOSED) return;
  pump(c, &c->u2c, false);
}

static void start_connect(conn_t *c, uint32_t eslot) {
  engine_t *e = c->e;
  slot_t *s = &e->slots[eslot];
  int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    /* Out of descriptors: nothing else to try. */
    c->eslot = UINT32_MAX;
    conn_close(c, true, true);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  s->refs++;
  c->eslot = eslot;
  c->ufd = fd;
  c->u2c.hup = false;
  c->u2c.urgent = false;
  int r;
  do r = connect(fd, (struct sockaddr *)&s->addr, s->addr_len);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) {
    connect_failed(c, errno);
    return;
  }
  if (ep_add(e, fd, (void *)((uintptr_t)c | TAG_UPSTREAM), CONN_EVENTS) < 0) {
    connect_failed(c, errno);
    return;
  }
  if (r == 0) {
    on_connected(c);
    return;
  }
  c->connect_deadline = uv_now(e->loop) + timeout_for(e, c->attempt);
  arm_deadline(e, c->connect_deadline);
}

static void on_again(uv_idle_t *h);

static void again_add(conn_t *c) {
  engine_t *e = c->e;
  if (c->in_again) return;
  c->in_again = true;
  c->next_again = e->again;
  e->again = c;
  if (!uv_is_active((uv_handle_t *)&e->again_idle)) uv_idle_start(&e->again_idle, on_again);
}

/* Passes a finished direction's FIN on, or closes both sockets once both directions are done. */
static void finish_dir(conn_t *c, dir_t *d, bool from_client) {
  dir_t *other = from_client ? &c->u2c : &c->c2u;
  if (other->eof && other->buf == NULL) {
    /* close() sends the FIN as shutdown() would; saves the call. */
    conn_close(c, false, false);
    return;
  }
  if (!d->shut) {
    shutdown(from_client ? c->ufd : c->cfd, SHUT_WR);
    d->shut = true;
  }
}

/* Sends what a partial send left; true when nothing is left. */
static bool flush(conn_t *c, dir_t *d, bool from_client) {
  if (d->buf == NULL) return true;
  int dst = from_client ? c->ufd : c->cfd;
  while (d->off < d->len) {
    ssize_t s = send(dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (s < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      conn_close(c, false, true);
      return false;
    }
    d->off += (uint32_t)s;
  }
  free(d->buf);
  d->buf = NULL;
  d->off = d->len = 0;
  return true;
}

/* Moves bytes of one direction until the source is empty, the destination full, or the budget spent. */
static void pump(conn_t *c, dir_t *d, bool from_client) {
  engine_t *e = c->e;
  if (c->state != ST_RELAY || d->eof) return;
  if (!flush(c, d, from_client)) return;
  if (c->state != ST_RELAY) return;
  int src = from_client ? c->cfd : c->ufd;
  int dst = from_client ? c->ufd : c->cfd;
  slot_t *ls = slot_at(e, c->lslot);
  slot_t *es = slot_at(e, c->eslot);
  int counter = from_client ? C_TO_ENDPOINT : C_TO_CLIENT;
  d->more = false;
  for (int i = 0; i < READS_PER_WAKE; i++) {
    ssize_t n = recv(src, e->scratch, SCRATCH_BYTES, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) {
        i--;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        /* Truly empty: any urgent mark is behind us. */
        d->urgent = false;
        return;
      }
      conn_close(c, false, true);
      return;
    }
    if (n == 0) {
      d->eof = true;
      finish_dir(c, d, from_client);
      return;
    }
    c->activity = true;
    if (ls) ls->delta[counter] += n;
    if (es) es->delta[counter] += n;
    ssize_t sent = 0;
    while (sent < n) {
      ssize_t s = send(dst, e->scratch + sent, (size_t)(n - sent), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (s < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        conn_close(c, false, true);
        return;
      }
      sent += s;
    }
    if (sent < n) {
      /* The destination is full: keep the rest, stop reading until its EPOLLOUT edge. */
      size_t rest = (size_t)(n - sent);
      d->buf = malloc(rest);
      if (d->buf == NULL) {
        conn_close(c, false, true);
        return;
      }
      memcpy(d->buf, e->scratch + sent, rest);
      d->off = 0;
      d->len = (uint32_t)rest;
      return;
    }
    /* A short read means the receive queue was empty when it returned: TCP's receive copies
     * until the queue runs dry (taking in what queued meanwhile), and whatever arrives after
     * queues a new edge-triggered event (a segment processed later wakes the socket again), so
     * the read that would only say EAGAIN is skipped: one system call less per message. Two
     * cases leave data behind without a new edge, and then we read on until EAGAIN:
     * a FIN (or error) epoll already reported — its event may have been consumed while this
     * direction waited — and urgent data, as a read stops at the urgent mark (the next one
     * skips the out-of-band byte, as Node's sockets do, and goes on). */
    if (n < SCRATCH_BYTES && !d->hup && !d->urgent) return;
  }
  /* Budget spent with data maybe left: continue on a later loop turn. */
  d->more = true;
  again_add(c);
}

static void on_conn_event(conn_t *c, bool upstream, uint32_t events) {
  if (c->state == ST_CLOSED) return;
  dir_t *from = upstream ? &c->u2c : &c->c2u;
  /* Also while connecting: the client's FIN may come before the endpoint answers. */
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) from->hup = true;
  if (events & EPOLLPRI) from->urgent = true;
  if (upstream && c->state == ST_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err != 0) {
      connect_failed(c, err);
      return;
    }
    if (events & EPOLLOUT) on_connected(c);
    return;
  }
  if (c->state != ST_RELAY) return;
  /* epoll reports a socket's whole readiness, so a writable socket shows EPOLLOUT with every
   * read event: only a direction with bytes waiting for this socket is worth a send. */
  dir_t *into = upstream ? &c->c2u : &c->u2c;
  if (into->buf != NULL) pump(c, into, upstream);
  if (c->state == ST_RELAY && (events & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
    pump(c, from, !upstream);
}

/* ---------- listeners ---------- */

static void on_accept(listener_t *l) {
  engine_t *e = l->e;
  for (int i = 0; i < ACCEPTS_PER_WAKE && !l->closed && !e->closed; i++) {
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && e->reserve_fd >= 0) {
        /* Refuse the connection rather than leave it queued: the listener would wake us at
         * once, again and again, until a descriptor frees up. */
        close(e->reserve_fd);
        int dropped = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        if (dropped >= 0) close(dropped);
        e->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        slot_t *ls = slot_at(e, l->slot);
        if (ls != NULL && dropped >= 0) {
          ls->delta[C_TOTAL]++;
          ls->delta[C_ERRORS]++;
        }
        continue;
      }
      return; /* EAGAIN: level-triggered, woken again when more arrive */
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_t *c = calloc(1, sizeof(conn_t));
    if (c == NULL) {
      close(fd);
      continue;
    }
    c->e = e;
    c->cfd = fd;
    c->ufd = -1;
    c->lslot = l->slot;
    c->eslot = UINT32_MAX;
    c->id = ++e->next_id;
    c->state = ST_CONNECTING;
    c->activity = true;
    e->nconnecting++;
    e->nconns++;
    c->next = e->conns;
    if (e->conns) e->conns->prev = c;
    e->conns = c;
    slot_t *ls = &e->slots[l->slot];
    ls->refs++;
    ls->delta[C_ACTIVE]++;
    ls->delta[C_TOTAL]++;
    update_ref(e);
    if (ep_add(e, fd, (void *)((uintptr_t)c | TAG_CLIENT), CONN_EVENTS) < 0) {
      conn_close(c, true, true);
      continue;
    }
    const char *ip = NULL;
    char text[INET6_ADDRSTRLEN];
    if (l->want_ip) {
      const void *src = peer.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&peer)->sin6_addr
                                                   : (const void *)&((struct sockaddr_in *)&peer)->sin_addr;
      if (inet_ntop(peer.ss_family, src, text, sizeof(text)) != NULL) ip = text;
    }
    double answer = call_js(e, EV_ACCEPT, c->id, l->slot, 0, 0, 0, ip);
    apply_answer(c, answer);
  }
}

/* ---------- timers ---------- */

static void on_deadline(uv_timer_t *t);

static void arm_deadline(engine_t *e, uint64_t at) {
  if (e->closed) return;
  if (e->deadline_armed && e->deadline_at <= at) return;
  uint64_t now = uv_now(e->loop);
  e->deadline_armed = true;
  e->deadline_at = at;
  uv_timer_start(&e->deadline_timer, on_deadline, at > now ? at - now : 0, 0);
}

static void run_batch_end(engine_t *e);

/* Start of one of the engine's libuv callbacks: frees are deferred, JS scopes opened lazily. */
static void begin_wake(engine_t *e) {
  e->in_batch = true;
  e->in_wake = true;
}

static void end_wake(engine_t *e) {
  run_batch_end(e);
  e->in_wake = false;
  if (e->scopes_open) {
    e->scopes_open = false;
    napi_close_callback_scope(e->env, e->wake_cs);
    napi_close_handle_scope(e->env, e->wake_hs);
  }
}

static void on_deadline(uv_timer_t *t) {
  engine_t *e = t->data;
  e->deadline_armed = false;
  if (e->closed) return;
  uint64_t now = uv_now(e->loop);
  uint64_t next = UINT64_MAX;
  begin_wake(e);
  for (conn_t *c = e->conns; c != NULL && !e->closed;) {
    conn_t *nx = c->next;
    if (c->state == ST_CONNECTING && c->ufd >= 0) {
      if (c->connect_deadline <= now) connect_failed(c, 0);
      else if (c->connect_deadline < next) next = c->connect_deadline;
    } else if (c->eslot != UINT32_MAX && c->state == ST_RELAY) {
      slot_t *es = slot_at(e, c->eslot);
      if (es != NULL && es->drain_armed) {
        if (es->drain_at <= now) conn_close(c, false, false);
        else if (es->drain_at < next) next = es->drain_at;
      }
    }
    c = nx;
  }
  /* Connections that reached their endpoint after `nx` was taken are not skipped: a new
   * connection is put at the head, and connect/drain deadlines re-arm the timer. */
  for (uint32_t i = 0; i < e->nslots; i++) {
    slot_t *s = &e->slots[i];
    if (s->used && s->drain_armed && s->refs == 0) s->drain_armed = false;
    else if (s->used && s->drain_armed && s->drain_at > now && s->drain_at < next) next = s->drain_at;
  }
  end_wake(e);
  if (next != UINT64_MAX) arm_deadline(e, next);
}

static void on_idle_sweep(uv_timer_t *t) {
  engine_t *e = t->data;
  if (e->closed) return;
  begin_wake(e);
  for (conn_t *c = e->conns; c != NULL;) {
    conn_t *nx = c->next;
    if (c->state == ST_CLOSED) {
      c = nx;
      continue;
    }
    if (c->activity) {
      c->activity = false;
      c->idle_sweeps = 0;
    } else if (++c->idle_sweeps >= e->idle_limit) {
      conn_close(c, false, false);
    }
    c = nx;
  }
  end_wake(e);
}

/* ---------- the loop's wake-up ---------- */

static void run_batch_end(engine_t *e) {
  e->in_batch = false;
  conn_t *z = e->zombies;
  e->zombies = NULL;
  while (z != NULL) {
    conn_t *nx = z->next_zombie;
    conn_free_now(z);
    z = nx;
  }
  listener_t *zl = e->zombie_listeners;
  e->zombie_listeners = NULL;
  while (zl != NULL) {
    listener_t *nx = zl->next_zombie;
    free(zl);
    zl = nx;
  }
}

static void on_again(uv_idle_t *h) {
  engine_t *e = h->data;
  conn_t *list = e->again;
  e->again = NULL;
  uv_idle_stop(h);
  begin_wake(e);
  /* First take ownership back: closed ones are freed at the end of this pass, like the batch's. */
  for (conn_t *c = list; c != NULL; c = c->next_again) {
    c->in_again = false;
    if (c->state == ST_CLOSED) {
      c->next_zombie = e->zombies;
      e->zombies = c;
    }
  }
  for (conn_t *c = list; c != NULL;) {
    conn_t *nx = c->next_again;
    if (c->state != ST_CLOSED && !e->closed) {
      if (c->c2u.more) pump(c, &c->c2u, true);
      if (c->state == ST_RELAY && c->u2c.more) pump(c, &c->u2c, false);
    }
    c = nx;
  }
  end_wake(e);
}

static void on_epoll(uv_poll_t *p, int status, int events) {
  engine_t *e = p->data;
  if (e->closed) return;
  struct epoll_event evs[EVENTS_PER_WAKE];
  int n;
  do n = epoll_wait(e->epfd, evs, EVENTS_PER_WAKE, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return;
  begin_wake(e);
  for (int i = 0; i < n && !e->closed; i++) {
    uintptr_t tagged = (uintptr_t)evs[i].data.ptr;
    uintptr_t tag = tagged & TAG_MASK;
    void *ptr = (void *)(tagged & ~(uintptr_t)TAG_MASK);
    if (tag == TAG_LISTENER) {
      listener_t *l = ptr;
      if (!l->closed) on_accept(l);
    } else {
      on_conn_event(ptr, tag == TAG_UPSTREAM, evs[i].events);
    }
  }
  end_wake(e);
}

/* ---------- teardown ---------- */

/* Memory goes once the JS object is collected and libuv is done with the handles in it. */
static void engine_maybe_free(engine_t *e) {
  if (e->open_handles > 0 || !e->freed_js || e->cleanup_handle != NULL) return;
  free(e->slots);
  free(e);
}

static void on_handle_closed(uv_handle_t *h) {
  engine_t *e = h->data;
  if (--e->open_handles > 0) return;
  /* The environment's teardown waits for this: after it, the add-on's code may be unloaded
   * (workers), so no callback of ours may still be pending. */
  if (e->cleanup_handle != NULL) {
    napi_async_cleanup_hook_handle hook = e->cleanup_handle;
    e->cleanup_handle = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
  engine_maybe_free(e);
}

static void listener_close(engine_t *e, listener_t *l) {
  if (l->closed) return;
  l->closed = true;
  unwatch_and_close(e, l->fd);
  slot_t *s = slot_at(e, l->slot);
  if (s != NULL) {
    s->released = true;
    slot_unref(e, l->slot);
  }
  listener_t **pp = &e->listeners;
  while (*pp != NULL && *pp != l) pp = &(*pp)->next;
  if (*pp == l) *pp = l->next;
  e->nlisteners--;
  if (e->in_batch) {
    l->next_zombie = e->zombie_listeners;
    e->zombie_listeners = l;
  } else {
    free(l);
  }
  update_ref(e);
}

static void destroy_all(engine_t *e) {
  bool was = e->in_batch;
  e->in_batch = true;
  while (e->conns != NULL) conn_close(e->conns, false, false);
  if (!was) run_batch_end(e);
  else e->in_batch = was;
}

/* Closes everything; no JavaScript is called from here on. */
static void engine_close(engine_t *e, bool env_teardown) {
  if (e->closed || e->closing) return;
  /* JavaScript run below (close events) may call closeEngine again: that call must do nothing. */
  e->closing = true;
  while (e->listeners != NULL) listener_close(e, e->listeners);
  /* Tracked connections hear of their close while JavaScript is still there. */
  if (!env_teardown) destroy_all(e);
  e->closed = true;
  if (env_teardown) {
    bool was = e->in_batch;
    e->in_batch = true;
    while (e->conns != NULL) conn_close(e->conns, false, false);
    e->in_batch = was;
  }
  /* Connections on the again list (all closed by now) are freed with the zombies. */
  for (conn_t *c = e->again; c != NULL; c = c->next_again) {
    c->in_again = false;
    c->next_zombie = e->zombies;
    e->zombies = c;
  }
  e->again = NULL;
  if (!e->in_batch) run_batch_end(e);
  if (e->reserve_fd >= 0) close(e->reserve_fd);
  e->reserve_fd = -1;
  uv_close((uv_handle_t *)&e->poll, on_handle_closed);
  uv_close((uv_handle_t *)&e->deadline_timer, on_handle_closed);
  uv_close((uv_handle_t *)&e->idle_timer, on_handle_closed);
  uv_close((uv_handle_t *)&e->again_idle, on_handle_closed);
  /* Only once libuv stopped watching it: its poll handle must not outlive the descriptor. */
  close(e->epfd);
  e->epfd = -1;
  if (!e->env_gone) {
    napi_delete_reference(e->env, e->callback);
    napi_delete_reference(e->env, e->resource);
    napi_async_destroy(e->env, e->async_ctx);
  }
}

/* The environment is going away (process exit, worker terminated): close everything. */
static void env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) {
  engine_t *e = arg;
  e->env_gone = true;
  /* Already closed: its handles are closing, and the last close removes the hook. */
  if (!e->closed) engine_close(e, true);
}

static void engine_finalize(napi_env env, void *data, void *hint) {
  engine_t *e = data;
  if (!e->closed) engine_close(e, true);
  e->freed_js = true;
  engine_maybe_free(e);
}

/* ---------- JavaScript API ---------- */

static engine_t *get_engine(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    svcroute_throw(env, "tcp relay: not an engine");
    return NULL;
  }
  engine_t *e = data;
  if (e->closed) {
    svcroute_throw(env, "tcp relay: engine closed");
    return NULL;
  }
  return e;
}

#define ARGS(n)                                                           \
  size_t argc = n;                                                        \
  napi_value argv[n];                                                     \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) \
    return NULL;

static napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

static bool get_u32(napi_env env, napi_value v, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 4294967295.0) {
    svcroute_throw(env, "tcp relay: expected a non-negative integer");
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

/* createEngine(callback, timeoutsMs: number[], idleTimeoutMs) */
static napi_value js_create(napi_env env, napi_callback_info info) {
  ARGS(3);
  if (argc < 3) return svcroute_throw(env, "tcp relay: createEngine(callback, timeouts, idleMs)");
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t != napi_function) return svcroute_throw(env, "tcp relay: callback must be a function");
  uint32_t ntimeouts = 0, idle_ms = 0;
  if (napi_get_array_length(env, argv[1], &ntimeouts) != napi_ok)
    return svcroute_throw(env, "tcp relay: timeouts must be an array");
  /* JavaScript gives up after as many attempts as it gave timeouts: the lists must agree. */
  if (ntimeouts == 0 || ntimeouts > MAX_TIMEOUTS)
    return svcroute_throw(env, "tcp relay: timeouts must list 1 to 64 attempts");
  if (!get_u32(env, argv[2], &idle_ms)) return NULL;
  engine_t *e = calloc(1, sizeof(engine_t));
  if (e == NULL) return svcroute_throw(env, "tcp relay: out of memory");
  for (uint32_t i = 0; i < ntimeouts && i < MAX_TIMEOUTS; i++) {
    napi_value v;
    napi_get_element(env, argv[1], i, &v);
    if (!get_u32(env, v, &e->timeouts_ms[i])) {
      free(e);
      return NULL;
    }
    e->ntimeouts++;
  }
  e->env = env;
  e->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (e->epfd < 0 || napi_get_uv_event_loop(env, &e->loop) != napi_ok) {
    if (e->epfd >= 0) close(e->epfd);
    if (e->reserve_fd >= 0) close(e->reserve_fd);
    free(e);
    return svcroute_throw(env, "tcp relay: cannot create an epoll instance");
  }
  napi_value resource, name, external;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "svcroute:TcpRelay", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &e->async_ctx);
  napi_create_reference(env, resource, 1, &e->resource);
  napi_create_reference(env, argv[0], 1, &e->callback);
  uv_poll_init(e->loop, &e->poll, e->epfd);
  uv_timer_init(e->loop, &e->deadline_timer);
  uv_timer_init(e->loop, &e->idle_timer);
  uv_idle_init(e->loop, &e->again_idle);
  e->poll.data = e->deadline_timer.data = e->idle_timer.data = e->again_idle.data = e;
  e->open_handles = 4;
  uv_unref((uv_handle_t *)&e->deadline_timer);
  uv_unref((uv_handle_t *)&e->idle_timer);
  uv_poll_start(&e->poll, UV_READABLE, on_epoll);
  update_ref(e);
  if (idle_ms > 0) {
    /* As the JavaScript path: sweep every half timeout (at least 10 ms); a connection quiet
     * for that many sweeps in a row is closed. */
    uint64_t every = idle_ms / 2 < 10 ? 10 : idle_ms / 2;
    e->idle_ms = idle_ms;
    e->idle_limit = (uint32_t)((idle_ms + every - 1) / every);
    uv_timer_start(&e->idle_timer, on_idle_sweep, every, every);
  }
  napi_add_async_cleanup_hook(env, env_cleanup, e, &e->cleanup_handle);
  napi_create_external(env, e, engine_finalize, NULL, &external);
  return external;
}

static bool parse_addr(napi_env env, napi_value host, uint32_t port, struct sockaddr_storage *ss, socklen_t *len) {
  char text[INET6_ADDRSTRLEN + 1];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, host, text, sizeof(text), &n) != napi_ok) {
    svcroute_throw(env, "tcp relay: address must be a string");
    return false;
  }
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (port > 65535) {
    svcroute_throw(env, "tcp relay: bad port");
    return false;
  }
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof(*v4);
    return true;
  }
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*v6);
    return true;
  }
  svcroute_throw(env, "tcp relay: not an IP address");
  return false;
}

/* listen(engine, host, port, backlog, wantClientIP) → [slot, boundPort] or -errno */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  ARGS(5);
  if (argc < 5) return svcroute_throw(env, "tcp relay: listen(engine, host, port, backlog, wantIP)");
  engine_t *e = get_engine(env, argv[0]);
  if (e == NULL) return NULL;
  uint32_t port, backlog;
  bool want_ip = false;
  if (!get_u32(env, argv[2], &port) || !get_u32(env, argv[3], &backlog)) return NULL;
  napi_get_value_bool(env, argv[4], &want_ip);
  struct sockaddr_storage ss;
  socklen_t len;
  if (!parse_addr(env, argv[1], port, &ss, &len)) return NULL;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, (int)(backlog > 65535 ? 65535 : backlog)) < 0) {
    int err = errno;
    close(fd);
    return num(env, -err);
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  getsockname(fd, (struct sockaddr *)&bound, &blen);
  uint16_t bport = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
  listener_t *l = calloc(1, sizeof(listener_t));
  int64_t sid = l != NULL ? slot_alloc(e) : -1;
  if (sid < 0) {
    free(l);
    close(fd);
    return svcroute_throw(env, "tcp relay: out of memory");
  }
  l->e = e;
  l->fd = fd;
  l->slot = (uint32_t)sid;
  l->want_ip = want_ip;
  e->slots[sid].listener = true;
  e->slots[sid].refs = 1;
  if (ep_add(e, fd, (void *)((uintptr_t)l | TAG_LISTENER), EPOLLIN) < 0) {
    int err = errno;
    close(fd);
    free(l);
    e->slots[sid].used = false;
    return num(env, -err);
  }
  l->next = e->listeners;
  e->listeners = l;
  e->nlisteners++;
  update_ref(e);
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, num(env, (double)sid));
  napi_set_element(env, out, 1, num(env, bport));
  return out;
}

/* closeListener(engine, slot): stops accepting; accepted connections go on. */
static napi_value js_close_listener(napi_env env, napi_callback_info info) {
  ARGS(2);
  engine_t *e = get_engine(env, argv[0]);
  uint32_t id;
  if (e == NULL || !get_u32(env, argv[1], &id)) return NULL;
  for (listener_t *l = e->listeners; l != NULL; l = l->next)
    if (l->slot == id) {
      listener_close(e, l);
      break;
    }
  return NULL;
}

/* setClientIP(engine, slot, want): whether accepts on a listener pass the client's address. */
static napi_value js_set_client_ip(napi_env env, napi_callback_info info) {
  ARGS(3);
  engine_t *e = get_engine(env, argv[0]);
  uint32_t id;
  bool want = false;
  if (e == NULL || !get_u32(env, argv[1], &id)) return NULL;
  napi_get_value_bool(env, argv[2], &want);
  for (listener_t *l = e->listeners; l != NULL; l = l->next)
    if (l->slot == id) l->want_ip = want;
  return NULL;
}

/* endpoint(engine, ip, port) → handle */
static napi_value js_endpoint(napi_env env, napi_callback_info info) {
  ARGS(3);
  engine_t *e = get_engine(env, argv[0]);
  uint32_t port;
  if (e == NULL || !get_u32(env, argv[2], &port)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  if (!parse_addr(env, argv[1], port, &ss, &len)) return NULL;
  int64_t sid = slot_alloc(e);
  if (sid < 0) return svcroute_throw(env, "tcp relay: out of memory");
  e->slots[sid].addr = ss;
  e->slots[sid].addr_len = len;
  return num(env, (double)sid);
}

/* drainEndpoint(engine, handle, graceMs) → connections that will be closed at the deadline. */
static napi_value js_drain(napi_env env, napi_callback_info info) {
  ARGS(3);
  engine_t *e = get_engine(env, argv[0]);
  uint32_t id, grace;
  if (e == NULL || !get_u32(env, argv[1], &id) || !get_u32(env, argv[2], &grace)) return NULL;
  slot_t *s = slot_at(e, id);
  if (s == NULL || s->listener) return num(env, 0);
  s->released = true;
  if (s->refs > 0 && !s->drain_armed) {
    s->drain_armed = true;
    s->drain_at = uv_now(e->loop) + grace;
    arm_deadline(e, s->drain_at);
  }
  return num(env, s->refs);
}

/* destroyAll(engine): closes every connection now. */
static napi_value js_destroy_all(napi_env env, napi_callback_info info) {
  ARGS(1);
  engine_t *e = get_engine(env, argv[0]);
  if (e == NULL) return NULL;
  destroy_all(e);
  update_ref(e);
  return NULL;
}

/* count(engine) → open connections. */
static napi_value js_count(napi_env env, napi_callback_info info) {
  ARGS(1);
  engine_t *e = get_engine(env, argv[0]);
  if (e == NULL) return NULL;
  return num(env, e->nconns);
}

/*
 * collect(engine) → Float64Array of [slot, dead, active, total, toEndpoint, toClient, errors]
 * deltas since the last collect, for slots with any; a dead slot was freed (its id may be
 * reused from now on).
 */
static napi_value js_collect(napi_env env, napi_callback_info info) {
  ARGS(1);
  engine_t *e = get_engine(env, argv[0]);
  if (e == NULL) return NULL;
  uint32_t rows = 0;
  for (uint32_t i = 0; i < e->nslots; i++) {
    slot_t *s = &e->slots[i];
    if (!s->used) continue;
    bool any = s->released && s->refs == 0;
    for (int k = 0; k < C_COUNT && !any; k++) any = s->delta[k] != 0;
    if (any) rows++;
  }
  napi_value ab, out;
  void *data = NULL;
  if (napi_create_arraybuffer(env, (size_t)rows * COLLECT_STRIDE * sizeof(double), &data, &ab) != napi_ok)
    return NULL;
  double *p = data;
  for (uint32_t i = 0; i < e->nslots; i++) {
    slot_t *s = &e->slots[i];
    if (!s->used) continue;
    bool dead = s->released && s->refs == 0;
    bool any = dead;
    for (int k = 0; k < C_COUNT && !any; k++) any = s->delta[k] != 0;
    if (!any) continue;
    *p++ = i;
    *p++ = dead ? 1 : 0;
    for (int k = 0; k < C_COUNT; k++) {
      *p++ = (double)s->delta[k];
      s->delta[k] = 0;
    }
    if (dead) s->used = false;
  }
  napi_create_typedarray(env, napi_float64_array, (size_t)rows * COLLECT_STRIDE, ab, 0, &out);
  return out;
}

/* closeEngine(engine): closes listeners and connections; the engine is unusable after. */
static napi_value js_close_engine(napi_env env, napi_callback_info info) {
  ARGS(1);
  void *data = NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) return NULL;
  engine_t *e = data;
  if (!e->closed) engine_close(e, false);
  return NULL;
}

napi_value svcroute_tcp_init(napi_env env) {
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"createEngine", js_create}, {"listen", js_listen},   {"closeListener", js_close_listener},
      {"endpoint", js_endpoint},   {"drainEndpoint", js_drain}, {"destroyAll", js_destroy_all},
      {"count", js_count}, {"setClientIP", js_set_client_ip},         {"collect", js_collect}, {"closeEngine", js_close_engine},
  };
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, obj, fns[i].name, f);
  }
  napi_value version;
  napi_create_int32(env, 1, &version);
  napi_set_named_property(env, obj, "version", version);
  return obj;
}
