/*
 * bench/native/tcp-relay.c — a measuring stick for bench:l7's tcp mode, not part of the engine.
 *
 * What a native data path for Fulcrum's tcp mode could at best be: accept on a port, connect to one backend, and
 * relay bytes both ways, one epoll loop per thread (HAProxy's shape: `nbthread 2`), nothing else — no scheduler,
 * no counters, no timeouts, no persistence, no PROXY preface. Two ways to move the bytes:
 *
 *   splice  socket -> pipe -> socket with splice(2), SPLICE_F_MOVE | SPLICE_F_NONBLOCK; two pipes per connection
 *           (one per direction). The bytes never enter user space.
 *   copy    recv(2) into a 64 KiB buffer of the thread, send(2) to the other side; what the kernel did not take is
 *           kept (copied) in a per-direction buffer and sent when the socket is writable.
 *
 * Both are level-triggered: a direction whose output is full stops watching its input and watches its output
 * until what it holds is gone. A read of 0 (FIN) shuts the other side down for writing; a connection ends when
 * both directions have ended or either side fails. The backend connect is blocking (loopback, once per client
 * connection; wrk keeps its connections, so it is outside what the bench measures).
 *
 * usage: tcp-relay <listen-port> <backend-port> <threads> splice|copy      (both on 127.0.0.1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (64 * 1024)

static int listen_port, backend_port, use_splice;

struct conn;
/* One direction: bytes read from `in` go to `out`. */
struct dir {
  struct conn *c;
  int in, out;
  int pipe[2];      /* splice: bytes read but not yet written live in the pipe */
  size_t held;      /* bytes in the pipe (splice) or in buf (copy) */
  char *buf;        /* copy: what send() did not take */
  size_t off;
  int ended;        /* FIN read and passed on */
};
struct conn {
  int fd[2]; /* 0 client, 1 server */
  struct dir d[2]; /* d[0] client->server, d[1] server->client */
};
/* What an epoll event points at: one socket of a connection. */
struct end {
  struct conn *c;
  int side;
  uint32_t watching; /* the epoll mask set now: epoll_ctl only when it changes */
};

static void want(int ep, struct conn *c, int side, struct end *e) {
  /* socket `side` is the input of d[side] and the output of d[1 - side] */
  uint32_t ev = 0;
  struct dir *rd = &c->d[side], *wd = &c->d[1 - side];
  if (!rd->ended && rd->held == 0) ev |= EPOLLIN;
  if (wd->held > 0) ev |= EPOLLOUT;
  if (ev == e->watching) return;
  e->watching = ev;
  struct epoll_event ee = {.events = ev, .data.ptr = e};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd[side], &ee);
}

/* Moves what can be moved in one direction; returns -1 when the connection must end. */
static int flush(struct dir *d) {
  while (d->held > 0) {
    ssize_t n = use_splice ? splice(d->pipe[0], NULL, d->out, NULL, d->held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                           : send(d->out, d->buf + d->off, d->held, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    d->held -= (size_t)n;
    d->off += (size_t)n;
  }
  d->off = 0;
  if (d->ended) shutdown(d->out, SHUT_WR);
  return 0;
}

static int pump(struct dir *d, char *scratch) {
  if (d->held > 0 || d->ended) return flush(d);
  for (;;) {
    ssize_t n;
    if (use_splice) {
      n = splice(d->in, NULL, d->pipe[1], NULL, BUF, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } else {
      n = recv(d->in, scratch, BUF, MSG_DONTWAIT);
    }
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    if (n == 0) {
      d->ended = 1;
      return flush(d);
    }
    if (use_splice) {
      d->held = (size_t)n;
      if (flush(d) < 0) return -1;
    } else {
      ssize_t w = send(d->out, scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && errno != EAGAIN) return -1;
      if (w < 0) w = 0;
      if (w < n) {
        if (!d->buf) d->buf = malloc(BUF);
        memcpy(d->buf, scratch + w, (size_t)(n - w));
        d->held = (size_t)(n - w);
        d->off = 0;
      }
    }
    if (d->held > 0) return 0;
    if (n < BUF) return 0; /* the socket is most likely empty; level-triggered epoll says if not */
  }
}

static void finish(int ep, struct conn *c, struct end *e) {
  for (int i = 0; i < 2; i++) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd[i], NULL);
    close(c->fd[i]);
    if (use_splice) {
      close(c->d[i].pipe[0]);
      close(c->d[i].pipe[1]);
    }
    free(c->d[i].buf);
  }
  free(c);
  free(e);
}

static int listener(void) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(listen_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1024) < 0) {
    perror("listen");
    exit(1);
  }
  return s;
}

static void accept_all(int ep, int ls) {
  for (;;) {
    int cfd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
    if (cfd < 0) return;
    int sfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(backend_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(sfd, (struct sockaddr *)&a, sizeof a) < 0) {
      close(sfd);
      close(cfd);
      continue;
    }
    fcntl(sfd, F_SETFL, O_NONBLOCK);
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    c->fd[0] = cfd;
    c->fd[1] = sfd;
    for (int i = 0; i < 2; i++) {
      c->d[i].c = c;
      c->d[i].in = c->fd[i];
      c->d[i].out = c->fd[1 - i];
      if (use_splice && pipe2(c->d[i].pipe, O_NONBLOCK) < 0) {
        perror("pipe2");
        exit(1);
      }
    }
    struct end *e = calloc(2, sizeof *e);
    for (int i = 0; i < 2; i++) {
      e[i].c = c;
      e[i].side = i;
      e[i].watching = EPOLLIN;
      struct epoll_event ee = {.events = EPOLLIN, .data.ptr = &e[i]};
      epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[i], &ee);
    }
  }
}

static void *loop(void *arg) {
  (void)arg;
  int ep = epoll_create1(0), ls = listener();
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
  char *scratch = malloc(BUF);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      struct end *e = evs[i].data.ptr;
      if (evs[i].events == 0) continue; /* an end of a connection finished earlier in this batch */
      if (e == NULL) {
        accept_all(ep, ls);
        continue;
      }
      struct conn *c = e->c;
      int side = e->side, bad = 0;
      /* readable: this socket's input; writable: the other direction's output */
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) bad |= pump(&c->d[side], scratch);
      if (!bad && (evs[i].events & EPOLLOUT)) bad |= flush(&c->d[1 - side]);
      if (bad || evs[i].events & EPOLLERR || (c->d[0].ended && c->d[1].ended && !c->d[0].held && !c->d[1].held)) {
        finish(ep, c, e - side);
        /* the other end of this connection may still be in evs: drop it */
        for (int j = i + 1; j < n; j++)
          if (evs[j].data.ptr == e - side || evs[j].data.ptr == e - side + 1) evs[j].events = 0;
        continue;
      }
      struct end *base = e - side;
      want(ep, c, 0, &base[0]);
      want(ep, c, 1, &base[1]);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s <listen-port> <backend-port> <threads> splice|copy\n", argv[0]);
    return 2;
  }
  listen_port = atoi(argv[1]);
  backend_port = atoi(argv[2]);
  int threads = atoi(argv[3]);
  use_splice = strcmp(argv[4], "splice") == 0;
  pthread_t t[64];
  for (int i = 1; i < threads && i < 64; i++) pthread_create(&t[i], NULL, loop, NULL);
  loop(NULL);
  return 0;
}
