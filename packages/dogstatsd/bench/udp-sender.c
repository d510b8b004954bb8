/*
 * Paced DogStatsD load generator for the UDP benchmark. Loopback only, bounded in count and time.
 *   udp-sender <port> <lines-per-datagram> <datagrams-per-second> <seconds> <contexts>
 * Prints the number of datagrams sent. sendmmsg() batches keep the sender well below the
 * receiver's cost per datagram, so the receiver is what the benchmark measures.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VARIANTS 1024
#define BATCH 32

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s port lines rate seconds contexts\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  int lines = atoi(argv[2]);
  double rate = atof(argv[3]);
  double seconds = atof(argv[4]);
  int contexts = atoi(argv[5]);
  if (port <= 0 || lines < 1 || lines > 50 || rate <= 0 || rate > 2e6 || seconds <= 0 || seconds > 30 || contexts < 1) {
    fprintf(stderr, "arguments out of range\n");
    return 2;
  }
  long total = (long)(rate * seconds);

  /* VARIANTS distinct datagrams, cycling over the contexts. */
  static char bufs[VARIANTS][2048];
  static size_t lens[VARIANTS];
  long ctx = 0;
  for (int v = 0; v < VARIANTS; v++) {
    size_t off = 0;
    for (int l = 0; l < lines; l++, ctx++) {
      long c = ctx % contexts;
      off += snprintf(bufs[v] + off, sizeof bufs[v] - off, "%sapp.metric.%ld:%ld|%c|#env:prod,ctx:%ld",
                      l ? "\n" : "", c % 50, (ctx % 97) + 1, "cgdc"[c % 4], c);
    }
    lens[v] = off;
  }

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {0};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only */
  if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
    perror("connect");
    return 1;
  }
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  long sent = 0;
  double start = now_s();
  while (sent < total) {
    double elapsed = now_s() - start;
    if (elapsed > seconds + 2) break; /* hard stop */
    long due = (long)(elapsed * rate);
    if (due > total) due = total;
    if (due <= sent) {
      struct timespec pause = {0, 50000};
      nanosleep(&pause, NULL);
      continue;
    }
    int n = (int)(due - sent < BATCH ? due - sent : BATCH);
    for (int i = 0; i < n; i++) {
      int v = (int)((sent + i) % VARIANTS);
      iov[i].iov_base = bufs[v];
      iov[i].iov_len = lens[v];
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(fd, msgs, n, 0);
    if (r > 0) sent += r;
  }
  printf("%ld\n", sent);
  close(fd);
  return 0;
}
