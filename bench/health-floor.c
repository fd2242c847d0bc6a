/*
 * The kernel's floor under bench/health.ts: the same checks as Fulcrum's monitor makes of the same fleet (see
 * bench/health-fleet.ts), at the same rate, in one small C process, so the bench can say how far the monitor is
 * from what the system calls themselves cost. bench/health.ts builds it with cc into a temporary directory at run
 * time and counts its CPU as it counts the monitor's.
 *
 * Per check, as Fulcrum does (engine/health/connect.ts, http.ts) and as HAProxy's and keepalived's checks do: a
 * fresh connection each time, non-blocking:
 *
 *   TCP    socket, connect (EINPROGRESS), epoll_ctl ADD (EPOLLOUT), [epoll_wait, shared], getsockopt SO_ERROR,
 *          setsockopt SO_LINGER 0 (a reset, no TIME_WAIT), close
 *   HTTP   the same, and once connected: write "GET /health HTTP/1.1 …", epoll_ctl MOD (EPOLLIN), read until the
 *          head ends (status 200 expected), then SO_LINGER 0 and close
 *
 * Not done: no epoll_ctl DEL before close (closing the descriptor takes it out of the epoll set), no second read
 * watcher change, no timer system call (the clock is the vDSO's; one epoll_wait timeout serves every slot and
 * deadline). Fulcrum's monitor child makes the same calls plus two of libuv's own, none of ours: strace -c -f on it
 * and on this program over the same 4 s (4,000 checks, 2026-12-04) counted socket, connect, getsockopt, setsockopt
 * and close 4,000 each in both, write and read 2,000 each (one read per answer), and epoll_ctl 12,000 against
 * 5,980: libuv deletes every descriptor from epoll before closing it (uv__platform_invalidate_fd, 1 per check), and
 * an HTTP check's read watcher, started after connect stopped the write watcher, is re-added with EPOLL_CTL_ADD,
 * which fails EEXIST, then MOD (1 more per HTTP check); epoll_pwait 330 against 239, no timer calls. Each check starts at a random offset of its interval rounded to one of 40 slots, as schedule.ts does;
 * a check has `timeout` ms (L4 or L7 timeout); fall and rise as in the monitor, so servers the bench kills are
 * reported down too.
 *
 * Usage: health-floor BASE SERVERS HTTP_SERVERS INTERVAL_MS TIMEOUT_MS FALL RISE
 * Prints, one line each: "checked UP" once every server has a verdict, and "down PORT WHY" for each server going
 * down. Ends on SIGTERM or when stdin closes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 40
#define HEAD_MAX 4096

enum { IDLE, CONNECTING, READING };
enum { UNKNOWN, UP, DOWN };

struct check {
  int fd, port, is_http, phase, health, fails, passes, got;
  double deadline;
  struct check *next_slot;
  char head[HEAD_MAX];
};

static struct check *checks;
static struct check *slots[SLOTS];
static double slot_due[SLOTS];
static int n_servers, fall, rise, decided, ups, is_all_told;
static double interval_ms, timeout_ms;
static int ep;
static volatile sig_atomic_t is_stopping;
static const char REQUEST[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Fulcrum-health-floor\r\nAccept: */*\r\nConnection: close\r\n\r\n";

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void verdict(struct check *c, int is_pass, const char *why) {
  int was = c->health;
  if (is_pass) {
    c->fails = 0;
    c->passes++;
    if (was == UNKNOWN || (was == DOWN && c->passes >= rise)) c->health = UP;
  } else {
    c->passes = 0;
    c->fails++;
    if (was != DOWN && c->fails >= fall) c->health = DOWN;
  }
  if (c->health == was) return;
  if (was == UNKNOWN) {
    decided++;
    if (c->health == UP) ups++;
  }
  if (c->health == DOWN) printf("down %d %s\n", c->port, why);
  if (!is_all_told && decided == n_servers) {
    is_all_told = 1;
    printf("checked %d\n", ups);
  }
}

/* Ends a run: a reset for a connection that was made (SO_LINGER 0), then close, which also leaves the epoll set. */
static void finish(struct check *c, int is_pass, const char *why) {
  if (c->phase != IDLE) {
    static const struct linger reset = {1, 0};
    if (c->phase == READING || is_pass) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(c->fd);
  }
  c->phase = IDLE;
  c->fd = -1;
  verdict(c, is_pass, why);
}

static void start(struct check *c, double now) {
  if (c->phase != IDLE) return;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return finish(c, 0, "socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(c->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  c->phase = CONNECTING;
  c->deadline = now + timeout_ms;
  c->got = 0;
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) return finish(c, 0, "L4CON");
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void on_event(struct check *c) {
  if (c->phase == CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) return finish(c, 0, "L4CON");
    if (!c->is_http) return finish(c, 1, "L4OK");
    if (write(c->fd, REQUEST, sizeof REQUEST - 1) < 0) return finish(c, 0, "L7RSP");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->phase = READING;
    return;
  }
  ssize_t n = read(c->fd, c->head + c->got, HEAD_MAX - 1 - c->got);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) return finish(c, 0, "L7RSP");
  c->got += n;
  c->head[c->got] = 0;
  if (c->got >= 12 && strncmp(c->head, "HTTP/1.", 7) == 0 && strstr(c->head, "\r\n\r\n"))
    return finish(c, strncmp(c->head + 9, "200", 3) == 0, "L7STS");
  if (c->got >= HEAD_MAX - 1) finish(c, 0, "L7RSP");
}

static void on_term(int sig) {
  (void)sig;
  is_stopping = 1;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s BASE SERVERS HTTP_SERVERS INTERVAL_MS TIMEOUT_MS FALL RISE\n", argv[0]);
    return 2;
  }
  int base = atoi(argv[1]), n_http = atoi(argv[3]);
  n_servers = atoi(argv[2]);
  interval_ms = atof(argv[4]);
  timeout_ms = atof(argv[5]);
  fall = atoi(argv[6]);
  rise = atoi(argv[7]);
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGTERM, on_term);
  signal(SIGPIPE, SIG_IGN);
  ep = epoll_create1(EPOLL_CLOEXEC);
  /* stdin: the bench holds it open; its end means the bench is gone. */
  struct epoll_event in = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &in);
  checks = calloc(n_servers, sizeof *checks);
  srand48(getpid());
  for (int i = 0; i < n_servers; i++) {
    struct check *c = &checks[i];
    c->fd = -1;
    c->port = base + i;
    c->is_http = i < n_http;
    int s = (int)(drand48() * SLOTS);
    c->next_slot = slots[s];
    slots[s] = c;
  }
  double t0 = now_ms();
  for (int s = 0; s < SLOTS; s++) slot_due[s] = t0 + s * interval_ms / SLOTS;
  struct epoll_event evs[256];
  while (!is_stopping) {
    double now = now_ms(), next = now + interval_ms;
    for (int s = 0; s < SLOTS; s++) {
      if (slot_due[s] <= now) {
        for (struct check *c = slots[s]; c; c = c->next_slot) start(c, now);
        slot_due[s] = now + interval_ms;
      }
      if (slot_due[s] < next) next = slot_due[s];
    }
    /* Deadlines: at most a slot's worth of checks is in flight; a scan of the fleet per wake-up is cheap in C. */
    for (int i = 0; i < n_servers; i++) {
      struct check *c = &checks[i];
      if (c->phase == IDLE) continue;
      if (c->deadline <= now) finish(c, 0, c->phase == CONNECTING ? "L4TOUT" : "L7TOUT");
      else if (c->deadline < next) next = c->deadline;
    }
    int wait = (int)(next - now + 0.999);
    int n = epoll_wait(ep, evs, 256, wait < 0 ? 0 : wait);
    for (int i = 0; i < n; i++) {
      if (!evs[i].data.ptr) {
        char b[64];
        if (read(0, b, sizeof b) <= 0) is_stopping = 1;
        continue;
      }
      on_event(evs[i].data.ptr);
    }
  }
  return 0;
}
