// epoll and eventfd for the curl worker's event loop, and libcurl's multi-socket setters, which Swift cannot call
// directly (variadic setters; `struct epoll_event` is packed on x86_64).
#include "CCurl.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

CURLMcode ccurl_multi_setopt_pointer(CURLM *handle, CURLMoption option, void *value) {
    return curl_multi_setopt(handle, option, value);
}
CURLMcode ccurl_multi_setopt_socketfunction(CURLM *handle, ccurl_socket_callback value) {
    return curl_multi_setopt(handle, CURLMOPT_SOCKETFUNCTION, value);
}
CURLMcode ccurl_multi_setopt_timerfunction(CURLM *handle, ccurl_timer_callback value) {
    return curl_multi_setopt(handle, CURLMOPT_TIMERFUNCTION, value);
}
CURLcode ccurl_easy_setopt_opensocketfunction(CURL *handle, ccurl_opensocket_callback value) {
    return curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, value);
}
CURLMcode ccurl_multi_socket_action(CURLM *handle, int fd, int flags, int *running) {
    return curl_multi_socket_action(handle, fd, flags, running);
}
int ccurl_socket_timeout(void) { return CURL_SOCKET_TIMEOUT; }
int ccurl_poll_in(void) { return CURL_POLL_IN; }
int ccurl_poll_out(void) { return CURL_POLL_OUT; }
int ccurl_poll_remove(void) { return CURL_POLL_REMOVE; }

int ccurl_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int ccurl_epoll_set(int epfd, int fd, int in, int out, int add) {
    struct epoll_event event = {0};
    event.events = (in ? EPOLLIN : 0) | (out ? EPOLLOUT : 0);
    event.data.fd = fd;
    int op = add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(epfd, op, fd, &event) == 0) return 0;
    // The table was stale: the socket was closed (epoll forgot it) or is already watched.
    if (errno == ENOENT && !add) return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
    if (errno == EEXIST && add) return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event);
    return -1;
}

int ccurl_epoll_remove(int epfd, int fd) {
    struct epoll_event event = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &event);
}

int ccurl_epoll_wait(int epfd, int *fds, int *flags, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int count;
    do {
        count = epoll_wait(epfd, events, capacity, timeout_ms);
    } while (count < 0 && errno == EINTR);
    for (int i = 0; i < count; i++) {
        fds[i] = events[i].data.fd;
        int f = 0;
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) f |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) f |= CURL_CSELECT_OUT;
        if (events[i].events & EPOLLERR) f |= CURL_CSELECT_ERR;
        flags[i] = f;
    }
    return count;
}

int ccurl_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

void ccurl_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t ignored = write(fd, &one, sizeof one);
    (void)ignored;  // EAGAIN only when the counter is saturated: the reader is already due to wake.
}

void ccurl_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t ignored = read(fd, &value, sizeof value);
    (void)ignored;
}

#include <sys/prctl.h>
void ccurl_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }
