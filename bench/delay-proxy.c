/*
 * delay-proxy — a TCP delay line for benchmarks: adds a fixed one-way delay to every byte
 * between a client and an upstream server, in both directions (not a test; kyosai-bench
 * starts it between a DR replica and its primary to emulate a WAN round trip).
 *
 * A delay line, not stop-and-wait: each chunk read from one side is stamped with
 * arrival + delay_ms and queued; a second thread per direction writes the chunks out in
 * order, each no earlier than its stamp. Reading never waits for writing (until
 * KY_PROXY_QUEUED_BYTES_MAX bytes are queued in one direction), so as many bytes are in
 * flight as the sender offers — what a long fat pipe does, and what pipelining needs.
 *
 * Owns: the listening socket; per proxied connection its two sockets and four threads
 * (reader and writer per direction), all detached; the last of the four to finish closes
 * both sockets and frees the link. TCP_NODELAY on every socket so that Nagle's algorithm
 * adds no delay of its own.
 *
 * Rules:
 *   1. Bytes leave in the order they arrived, per direction; nothing is dropped.
 *   2. A chunk never leaves before arrival + delay_ms (CLOCK_MONOTONIC).
 *   3. End of stream is forwarded as a half-close (shutdown SHUT_WR) once every byte before
 *      it has left; a write error closes both directions of that connection.
 *
 * Usage: delay-proxy --listen PORT --to A.B.C.D:PORT [--delay-ms N]
 * Prints "ready PORT" on stdout once listening; runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KY_PROXY_CHUNK_BYTES_MAX  65536u      /* one read(2) */
#define KY_PROXY_QUEUED_BYTES_MAX (64u << 20) /* per direction; the reader waits beyond it */

typedef struct chunk {
    struct chunk *next;
    uint64_t release_ns; /* CLOCK_MONOTONIC time it may leave, ns */
    size_t len_bytes;
    uint8_t data[]; /* len_bytes */
} chunk;

typedef struct direction {
    int src, dst; /* borrowed from the link */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    chunk *head, *tail;  /* queued chunks, oldest first */
    size_t queued_bytes; /* sum of their len_bytes */
    bool eof;            /* the reader saw end of stream or an error */
    bool dead;           /* the writer failed; the reader stops */
    struct proxy_link *link;
} direction;

typedef struct proxy_link {
    int fd_client, fd_upstream;
    direction up, down; /* client -> upstream, upstream -> client */
    atomic_int threads; /* still running; the last one frees the link */
} proxy_link;

static uint64_t delay_ns;
static struct sockaddr_in upstream_addr;

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void link_release(proxy_link *l) {
    if (atomic_fetch_sub(&l->threads, 1) != 1) return;
    close(l->fd_client);
    close(l->fd_upstream);
    direction *ds[2] = {&l->up, &l->down};
    for (int i = 0; i < 2; i++) {
        while (ds[i]->head != NULL) {
            chunk *c = ds[i]->head;
            ds[i]->head = c->next;
            free(c);
        }
        pthread_mutex_destroy(&ds[i]->mu);
        pthread_cond_destroy(&ds[i]->cv);
    }
    free(l);
}

/* Reads chunks from d->src and queues them, stamped; ends at end of stream or error. */
static void *reader_main(void *arg) {
    direction *d = arg;
    uint8_t *buf = malloc(KY_PROXY_CHUNK_BYTES_MAX);
    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (d->queued_bytes >= KY_PROXY_QUEUED_BYTES_MAX && !d->dead)
            pthread_cond_wait(&d->cv, &d->mu);
        bool dead = d->dead;
        pthread_mutex_unlock(&d->mu);
        ssize_t n = 0; /* dead or no buffer: end the stream */
        if (!dead && buf != NULL) n = read(d->src, buf, KY_PROXY_CHUNK_BYTES_MAX);
        if (n < 0 && errno == EINTR) continue;
        chunk *c = n > 0 ? malloc(sizeof *c + (size_t)n) : NULL;
        pthread_mutex_lock(&d->mu);
        if (c == NULL) {
            d->eof = true;
        } else {
            c->next = NULL;
            c->release_ns = mono_ns() + delay_ns;
            c->len_bytes = (size_t)n;
            memcpy(c->data, buf, (size_t)n);
            if (d->tail != NULL)
                d->tail->next = c;
            else
                d->head = c;
            d->tail = c;
            d->queued_bytes += (size_t)n;
        }
        pthread_cond_broadcast(&d->cv);
        bool stop = d->eof;
        pthread_mutex_unlock(&d->mu);
        if (stop) break;
    }
    free(buf);
    link_release(d->link);
    return NULL;
}

static bool write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Writes queued chunks to d->dst, each at its release time; forwards end of stream. */
static void *writer_main(void *arg) {
    direction *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (d->head == NULL && !d->eof) pthread_cond_wait(&d->cv, &d->mu);
        chunk *c = d->head;
        if (c != NULL) {
            d->head = c->next;
            if (d->head == NULL) d->tail = NULL;
        }
        pthread_mutex_unlock(&d->mu);
        if (c == NULL) break; /* end of stream, every byte before it sent */
        struct timespec at = {(time_t)(c->release_ns / 1000000000u),
                              (long)(c->release_ns % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
        }
        bool ok = write_all(d->dst, c->data, c->len_bytes);
        pthread_mutex_lock(&d->mu);
        d->queued_bytes -= c->len_bytes;
        if (!ok) d->dead = true;
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
        free(c);
        if (!ok) {
            shutdown(d->src, SHUT_RDWR); /* wakes the reader; the peer sees the close */
            shutdown(d->dst, SHUT_RDWR);
            break;
        }
    }
    shutdown(d->dst, SHUT_WR);
    link_release(d->link);
    return NULL;
}

static void direction_init(direction *d, proxy_link *l, int src, int dst) {
    memset(d, 0, sizeof *d);
    d->src = src, d->dst = dst, d->link = l;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Dials upstream for an accepted client and starts the link's four threads. */
static void link_start(int fd_client) {
    int fd_up = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_up < 0 ||
        connect(fd_up, (const struct sockaddr *)&upstream_addr, sizeof upstream_addr) != 0) {
        if (fd_up >= 0) close(fd_up);
        close(fd_client);
        return;
    }
    nodelay(fd_client);
    nodelay(fd_up);
    proxy_link *l = calloc(1, sizeof *l);
    if (l == NULL) {
        close(fd_up);
        close(fd_client);
        return;
    }
    l->fd_client = fd_client, l->fd_upstream = fd_up;
    direction_init(&l->up, l, fd_client, fd_up);
    direction_init(&l->down, l, fd_up, fd_client);
    atomic_init(&l->threads, 4);
    void *(*fns[4])(void *) = {reader_main, writer_main, reader_main, writer_main};
    direction *args[4] = {&l->up, &l->up, &l->down, &l->down};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, fns[i], args[i]) != 0) {
            fprintf(stderr, "delay-proxy: cannot start a thread\n");
            exit(3);
        }
    }
    pthread_attr_destroy(&attr);
}

static int listen_on(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
        fprintf(stderr, "delay-proxy: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
        exit(3);
    }
    return fd;
}

static void usage_die(const char *why) {
    fprintf(stderr,
            "delay-proxy: %s\nusage: delay-proxy --listen PORT --to A.B.C.D:PORT "
            "[--delay-ms N]\n",
            why);
    exit(2);
}

static void parse_to(const char *v) {
    char host[64];
    const char *colon = strrchr(v, ':');
    if (colon == NULL || (size_t)(colon - v) >= sizeof host) usage_die("--to wants A.B.C.D:PORT");
    memcpy(host, v, (size_t)(colon - v));
    host[colon - v] = 0;
    upstream_addr.sin_family = AF_INET;
    upstream_addr.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &upstream_addr.sin_addr) != 1) usage_die("--to: bad address");
}

int main(int argc, char **argv) {
    uint16_t port = 0;
    uint64_t delay_ms = 5;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) usage_die("every option takes a value");
        if (strcmp(argv[i], "--listen") == 0)
            port = (uint16_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--to") == 0)
            parse_to(argv[i + 1]);
        else if (strcmp(argv[i], "--delay-ms") == 0)
            delay_ms = strtoull(argv[i + 1], NULL, 10);
        else
            usage_die(argv[i]);
    }
    if (port == 0 || upstream_addr.sin_family != AF_INET) usage_die("--listen and --to needed");
    delay_ns = delay_ms * 1000000u;
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_on(port);
    printf("ready %u\n", port);
    fflush(stdout);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            fprintf(stderr, "delay-proxy: accept: %s\n", strerror(errno));
            return 3;
        }
        link_start(fd);
    }
}
