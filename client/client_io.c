/*
 * client_io.c — the client's socket: connect with a deadline, HELLO, whole-frame send and
 * receive, and disconnect.
 *
 * Why separate: this is the only file that makes system calls, so every transport failure
 * becomes a public code in one place, and the request logic (client.c, client_read.c) sees
 * only whole, checked frames.
 *
 * How: the socket is non-blocking and every wait is a poll() bounded by the caller's
 * deadline (CLOCK_MONOTONIC ms), so no call blocks longer than its timeout; EINTR is
 * retried within the deadline; sends use MSG_NOSIGNAL (no SIGPIPE in the application).
 * Bytes are read into a 64 KiB staging buffer and fed to a ky_frame_reader, which checks
 * each header against the node's announced frame_body_bytes_max before buffering a body.
 *
 * Transport errors map to public codes: refused, reset, closed or unreachable ->
 * KYOSAI_E_UNAVAILABLE; deadline passed -> KYOSAI_E_TIMEOUT; a damaged frame ->
 * its KYOSAI_E_FRAME_* code; an impossible response -> KYOSAI_E_PROTOCOL; a local resource
 * failure -> KYOSAI_E_NOMEM / KYOSAI_E_IO. Every one of them disconnects first, because
 * after it the byte stream (or the fate of a request) is unknown.
 *
 * Ownership: the socket of one kyosai_client; the thread using that client.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "../proto/status.h"
#include "client_int.h"

uint64_t ky_client_now_ms(void) {
    struct timespec ts;
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    KY_ASSERT(rc == 0);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The public code for an errno from socket calls. */
static int errno_code(int err) {
    switch (err) {
    case ENOMEM:
    case ENOBUFS: return KYOSAI_E_NOMEM;
    case ETIMEDOUT: return KYOSAI_E_TIMEOUT;
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
    case ENOTCONN:
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ENETUNREACH:
    case ENETDOWN:
    case EADDRNOTAVAIL: return KYOSAI_E_UNAVAILABLE;
    default: return KYOSAI_E_IO;
    }
}

/* Waits until fd is ready for events or the deadline passes. Returns KYOSAI_OK (ready, or
 * an error condition the next call will report), KYOSAI_E_TIMEOUT or an errno code. */
static int wait_fd(int fd, short events, uint64_t deadline_ms) {
    KY_ASSERT(fd >= 0);
    for (;;) {
        uint64_t now = ky_client_now_ms();
        if (now >= deadline_ms) return KYOSAI_E_TIMEOUT;
        uint64_t left = deadline_ms - now;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n > 0) return KYOSAI_OK;
        if (n < 0 && errno != EINTR) return errno_code(errno);
    }
}

/* Opens a non-blocking TCP connection to ep before deadline_ms. */
static int tcp_open(const ky_client_endpoint *ep, uint64_t deadline_ms, int *fd_out) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_code(errno);
    int one = 1, rc = KYOSAI_OK;
    /* Requests are whole frames written at once; Nagle would only add latency. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        rc = errno_code(errno);
        goto fail_close;
    }
    if (connect(fd, (const struct sockaddr *)&ep->addr, sizeof ep->addr) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            rc = errno_code(errno);
            goto fail_close;
        }
        rc = wait_fd(fd, POLLOUT, deadline_ms);
        if (rc != KYOSAI_OK) goto fail_close;
        int err = 0;
        socklen_t err_len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) err = errno;
        if (err != 0) {
            rc = errno_code(err);
            goto fail_close;
        }
    }
    *fd_out = fd;
    return KYOSAI_OK;
fail_close:
    close(fd);
    return rc;
}

void ky_client_disconnect(kyosai_client *c) {
    KY_ASSERT(c != NULL);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->in_pos = c->in_len = 0;
    c->cin_len = 0;
    c->pending_count = 0;
    ky_chan_wipe(&c->chan);
    if (c->reader.buf != NULL) ky_frame_reader_reset(&c->reader); /* NULL before 1st connect */
}

/* Disconnects and passes rc through, for one-line error returns. */
static int fail(kyosai_client *c, int rc) {
    KY_ASSERT(rc < 0);
    ky_client_disconnect(c);
    return rc;
}

static int write_all(kyosai_client *c, const uint8_t *buf, size_t len, uint64_t deadline_ms) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(c->fd, POLLOUT, deadline_ms);
            if (rc != KYOSAI_OK) return rc;
            continue;
        }
        return n == 0 ? KYOSAI_E_UNAVAILABLE : errno_code(errno);
    }
    return KYOSAI_OK;
}

int ky_client_send(kyosai_client *c, uint8_t type, size_t body_bytes, uint64_t deadline_ms,
                   uint64_t *request_id_out) {
    KY_ASSERT(c != NULL && request_id_out != NULL);
    KY_ASSERT(body_bytes <= c->body_bytes_max);
    if (c->fd < 0) return KYOSAI_E_UNAVAILABLE;
    uint64_t rid = c->next_request_id++;
    if (c->next_request_id == 0) c->next_request_id = 1; /* ids are never 0 */
    size_t frame_bytes = 0;
    int rc = ky_frame_seal(type, 0, rid, (uint32_t)body_bytes, c->out, KY_CLIENT_FRAME_BYTES,
                           &frame_bytes);
    KY_ASSERT(rc == KY_OK); /* body fits: encoders were given the node's limit */
    if (c->secure) {
        size_t sealed_bytes = 0;
        rc = ky_chan_seal(&c->chan, c->out, frame_bytes, c->sealed, KY_CLIENT_SEALED_BYTES,
                          &sealed_bytes);
        if (rc != KY_OK) return fail(c, ky_client_code(rc));
        rc = write_all(c, c->sealed, sealed_bytes, deadline_ms);
    } else {
        rc = write_all(c, c->out, frame_bytes, deadline_ms);
    }
    if (rc != KYOSAI_OK) return fail(c, rc);
    *request_id_out = rid;
    return KYOSAI_OK;
}

/* Reads whatever the socket has (at least one byte) into buf, before deadline_ms. */
/* Reads what is there, waiting until deadline_ms; or, with silence_ms > 0, until no byte
 * has arrived for silence_ms (each call starts after progress: the caller got bytes). */
static int recv_some(kyosai_client *c, uint8_t *buf, size_t cap, size_t *got, uint64_t deadline_ms,
                     uint32_t silence_ms) {
    KY_ASSERT(cap > 0);
    if (silence_ms > 0) deadline_ms = ky_client_now_ms() + silence_ms;
    for (;;) {
        ssize_t n = recv(c->fd, buf, cap, 0);
        if (n > 0) {
            *got = (size_t)n;
            return KYOSAI_OK;
        }
        if (n == 0) return KYOSAI_E_UNAVAILABLE; /* the node closed the connection */
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return errno_code(errno);
        int rc = wait_fd(c->fd, POLLIN, deadline_ms);
        if (rc != KYOSAI_OK) return rc;
    }
}

/* Secure channel: opens whole records from cin into the (empty) staging buffer, reading
 * more ciphertext until at least one plaintext byte is there. */
static int fill_secure(kyosai_client *c, uint64_t deadline_ms, uint32_t silence_ms) {
    for (;;) {
        size_t used = 0, plain = 0;
        int rc =
            ky_chan_open(&c->chan, c->cin, c->cin_len, &used, c->in, KY_CLIENT_IN_BYTES, &plain);
        if (rc != KY_OK) return ky_client_code(rc);
        memmove(c->cin, c->cin + used, c->cin_len - used);
        c->cin_len -= used;
        if (plain > 0) {
            c->in_len = plain;
            return KYOSAI_OK;
        }
        KY_ASSERT(c->cin_len < KY_CLIENT_CIN_BYTES); /* a partial record always fits */
        size_t got = 0;
        rc = recv_some(c, c->cin + c->cin_len, KY_CLIENT_CIN_BYTES - c->cin_len, &got, deadline_ms,
                       silence_ms);
        if (rc != KYOSAI_OK) return rc;
        c->cin_len += got;
    }
}

/* Reads more bytes into the staging buffer (which is empty). */
static int fill(kyosai_client *c, uint64_t deadline_ms, uint32_t silence_ms) {
    KY_ASSERT(c->in_pos == c->in_len);
    c->in_pos = c->in_len = 0;
    if (c->secure) return fill_secure(c, deadline_ms, silence_ms);
    return recv_some(c, c->in, KY_CLIENT_IN_BYTES, &c->in_len, deadline_ms, silence_ms);
}

static int recv_frame(kyosai_client *c, uint64_t deadline_ms, uint32_t silence_ms,
                      ky_client_resp *resp) {
    KY_ASSERT(c != NULL && resp != NULL);
    if (c->fd < 0) return KYOSAI_E_UNAVAILABLE;
    for (;;) {
        if (c->in_pos < c->in_len) {
            size_t used = 0;
            int st =
                ky_frame_reader_feed(&c->reader, c->in + c->in_pos, c->in_len - c->in_pos, &used);
            KY_ASSERT(used <= c->in_len - c->in_pos);
            c->in_pos += used;
            if (st == KY_STEP_FRAME) break;
            if (st < 0) return fail(c, ky_client_code(st));
            KY_ASSERT(st == KY_STEP_NEED_MORE && c->in_pos == c->in_len);
            continue;
        }
        int rc = fill(c, deadline_ms, silence_ms);
        if (rc != KYOSAI_OK) return fail(c, rc);
    }
    resp->hdr = ky_frame_reader_header(&c->reader);
    resp->body = ky_frame_reader_body(&c->reader);
    KY_ASSERT(resp->hdr != NULL && resp->body != NULL);
    /* A client accepts only responses (the direction is the receiver's to check). */
    if (ky_msg_header_check(resp->hdr) != KY_OK || !(resp->hdr->flags & KY_FRAME_FLAG_RESPONSE))
        return fail(c, KYOSAI_E_PROTOCOL);
    return KYOSAI_OK;
}

int ky_client_recv(kyosai_client *c, uint64_t deadline_ms, ky_client_resp *resp) {
    return recv_frame(c, deadline_ms, 0, resp);
}

int ky_client_recv_until_silent(kyosai_client *c, uint32_t silence_ms, ky_client_resp *resp) {
    KY_ASSERT(silence_ms > 0);
    return recv_frame(c, UINT64_MAX, silence_ms, resp);
}

int ky_client_error_code(kyosai_client *c, const ky_client_resp *resp) {
    KY_ASSERT(resp->hdr->type == KY_MSG_ERROR);
    ky_msg_error e;
    if (ky_msg_error_decode(resp->body, resp->hdr->body_bytes, &e) != KY_OK)
        return fail(c, KYOSAI_E_PROTOCOL);
    int code = ky_client_code_from_status(e.status);
    snprintf(c->last_error, sizeof c->last_error, "%.*s%s%.*s", (int)e.what_bytes,
             e.what ? e.what : "", e.what_bytes ? ": " : "", (int)e.message_bytes,
             e.message ? e.message : "");
    /* Frame-level statuses (1..19): the node closes the connection after them. */
    if (e.status < KY_WIRE_STATUS_MSG_MALFORMED) return fail(c, code);
    return code;
}

/* Sends HELLO and reads the answer; on success binds the reader to the node's limit. */
static int hello(kyosai_client *c, uint64_t deadline_ms) {
    ky_msg_hello h = {.version_min = KY_WIRE_VERSION,
                      .version_max = KY_WIRE_VERSION,
                      .client_name_bytes = c->client_name_bytes,
                      .client_name = c->client_name};
    size_t len = 0;
    int rc = ky_msg_hello_encode(&h, c->out + KY_WIRE_HEADER_BYTES, c->body_bytes_max, &len);
    KY_ASSERT(rc == KY_OK); /* the name was checked by kyosai_connect */
    uint64_t rid = 0;
    rc = ky_client_send(c, KY_MSG_HELLO, len, deadline_ms, &rid);
    if (rc != KYOSAI_OK) return rc;
    ky_client_resp r;
    rc = ky_client_recv(c, deadline_ms, &r);
    if (rc != KYOSAI_OK) return rc;
    if (r.hdr->type == KY_MSG_ERROR && (r.hdr->request_id == rid || r.hdr->request_id == 0))
        return fail(c, ky_client_error_code(c, &r)); /* refused: try the next endpoint */
    ky_msg_hello_resp m;
    if (r.hdr->request_id != rid || r.hdr->type != KY_MSG_HELLO ||
        ky_msg_hello_resp_decode(r.body, r.hdr->body_bytes, &m) != KY_OK)
        return fail(c, KYOSAI_E_PROTOCOL);
    if (m.version != KY_WIRE_VERSION) return fail(c, KYOSAI_E_VERSION_UNSUPPORTED);
    KY_ASSERT(m.frame_body_bytes_max >= KY_WIRE_FRAME_BODY_BYTES_MIN &&
              m.frame_body_bytes_max <= KY_WIRE_FRAME_BODY_BYTES_MAX); /* decoder checked */
    KY_ASSERT(m.batch_count_max >= 1 && m.batch_count_max <= KY_WIRE_BATCH_COUNT_MAX);
    c->role = m.role;
    c->epoch = m.epoch;
    c->head_seq = m.head_seq;
    c->body_bytes_max = m.frame_body_bytes_max;
    c->batch_count_max = m.batch_count_max;
    ky_frame_reader_init(&c->reader, c->rbuf, KY_CLIENT_FRAME_BYTES, c->body_bytes_max);
    return KYOSAI_OK;
}

/* The node answered the handshake with a plaintext ERROR frame (it refuses plaintext, or
 * is at connections_max): decode it from cin for its code. */
static int handshake_refusal(kyosai_client *c, uint64_t deadline_ms) {
    memcpy(c->in, c->cin, c->cin_len);
    c->in_pos = 0;
    c->in_len = c->cin_len;
    bool secure = c->secure;
    c->secure = false; /* read the rest of the frame in plaintext */
    ky_client_resp r;
    int rc = ky_client_recv(c, deadline_ms, &r);
    c->secure = secure;
    if (rc != KYOSAI_OK) return KYOSAI_E_HANDSHAKE_FAILED;
    if (r.hdr->type != KY_MSG_ERROR) return fail(c, KYOSAI_E_PROTOCOL);
    rc = ky_client_error_code(c, &r);
    /* A plaintext node answers our preamble with FRAME_MAGIC: a configuration mismatch. */
    return rc == KYOSAI_E_FRAME_MAGIC ? KYOSAI_E_HANDSHAKE_FAILED : rc;
}

/* Noise IK handshake with the pinned key of endpoint idx (secure/channel.h). A node that
 * does not know our key, or whose key is not the one we pinned, closes the connection:
 * that is KYOSAI_E_HANDSHAKE_FAILED. */
static int chan_handshake(kyosai_client *c, uint32_t idx, uint64_t deadline_ms) {
    uint8_t hello[KY_CHAN_HELLO_BYTES_MAX];
    size_t n = 0;
    int rc = ky_chan_client_hello(&c->chan, ky_chan_preferred_cipher(), c->static_sk,
                                  c->server_pk[idx], NULL, hello, sizeof hello, &n);
    if (rc != KY_OK) return KYOSAI_E_HANDSHAKE_FAILED;
    rc = write_all(c, hello, n, deadline_ms);
    if (rc != KYOSAI_OK) return rc;
    c->cin_len = 0;
    for (;;) {
        static const uint8_t magic[4] = {0x31, 0x4C, 0x59, 0x4B}; /* KY_WIRE_MAGIC, LE */
        if (c->cin_len >= sizeof magic && memcmp(c->cin, magic, sizeof magic) == 0)
            return handshake_refusal(c, deadline_ms);
        size_t used = 0;
        rc = ky_chan_client_finish(&c->chan, c->cin, c->cin_len, &used);
        if (rc == KY_OK) {
            memmove(c->cin, c->cin + used, c->cin_len - used);
            c->cin_len -= used;
            return KYOSAI_OK;
        }
        if (rc != KY_CHAN_NEED_MORE) return ky_client_code(rc);
        size_t got = 0;
        rc = recv_some(c, c->cin + c->cin_len, KY_CLIENT_CIN_BYTES - c->cin_len, &got, deadline_ms,
                       0);
        if (rc == KYOSAI_E_UNAVAILABLE) return KYOSAI_E_HANDSHAKE_FAILED; /* closed on us */
        if (rc != KYOSAI_OK) return rc;
        c->cin_len += got;
    }
}

/* TCP connect and HELLO to endpoint idx, both within connect_timeout_ms. */
static int connect_one(kyosai_client *c, uint32_t idx) {
    KY_ASSERT(c->fd < 0 && idx < c->endpoint_count);
    uint64_t deadline = ky_client_now_ms() + c->connect_timeout_ms;
    int fd = -1;
    int rc = tcp_open(&c->endpoints[idx], deadline, &fd);
    if (rc != KYOSAI_OK) return rc;
    c->fd = fd;
    c->in_pos = c->in_len = 0;
    c->pending_count = 0;
    /* Until HELLO tells the node's limit, accept only the smallest any node may announce
     * (HELLO and ERROR answers are a few hundred bytes). */
    c->body_bytes_max = KY_WIRE_FRAME_BODY_BYTES_MIN;
    ky_frame_reader_init(&c->reader, c->rbuf, KY_CLIENT_FRAME_BYTES, c->body_bytes_max);
    if (c->secure) {
        rc = chan_handshake(c, idx, deadline);
        if (rc != KYOSAI_OK) return rc;
    }
    return hello(c, deadline);
}

int ky_client_connect_any(kyosai_client *c, uint32_t first) {
    KY_ASSERT(c != NULL && c->endpoint_count >= 1 && c->endpoint_count <= KYOSAI_ENDPOINTS_MAX);
    ky_client_disconnect(c);
    int rc = KYOSAI_E_UNAVAILABLE;
    for (uint32_t i = 0; i < c->endpoint_count; i++) {
        uint32_t idx = (first + i) % c->endpoint_count;
        c->endpoint_index = idx;
        rc = connect_one(c, idx);
        if (rc == KYOSAI_OK) return KYOSAI_OK;
        ky_client_disconnect(c);
    }
    KY_ASSERT(rc < 0);
    return rc;
}

int ky_client_ensure_connected(kyosai_client *c) {
    if (c->fd >= 0) return KYOSAI_OK;
    return ky_client_connect_any(c, (c->endpoint_index + 1) % c->endpoint_count);
}
