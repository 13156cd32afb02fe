// Typed wrappers around libcurl's variadic setters, which Swift cannot call.
#ifndef OUTRIGGER_CCURL_H
#define OUTRIGGER_CCURL_H

#include <curl/curl.h>
#include <stddef.h>

typedef size_t (*ccurl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);

CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, const void *value);
CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ccurl_easy_setopt_callback(CURL *handle, CURLoption option, ccurl_data_callback value);
/// CURLOPT_XFERINFOFUNCTION (with CURLOPT_NOPROGRESS off): a non-zero return aborts the transfer. Lets a blocking
/// `curl_easy_perform` (the etcd watch) be stopped from another thread through a flag the callback reads.
typedef int (*ccurl_xferinfo_callback)(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                       curl_off_t ulnow);
CURLcode ccurl_easy_setopt_xferinfo(CURL *handle, ccurl_xferinfo_callback value);

CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);
/// CURLINFO_ACTIVESOCKET of a CONNECT_ONLY transfer, duplicated (close-on-exec) so the caller owns a descriptor
/// that outlives curl's; curl's own descriptor is stored in `curl_fd`. -1 on failure.
int ccurl_take_connected_socket(CURL *handle, int *curl_fd);

CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value);

/// gzip `input` into `output` (at least `ccurl_gzip_bound(length)` bytes); the compressed size, or -1.
long ccurl_gzip(const unsigned char *input, size_t length, unsigned char *output, size_t capacity);
size_t ccurl_gzip_bound(size_t length);

/// The `curl_version_info` version string, e.g. "7.88.1".
const char *ccurl_version_string(void);
/// The running libcurl's version as 0xXXYYZZ.
long ccurl_version_number(void);
/// The TLS backend description of the running libcurl, or "" when it has none.
const char *ccurl_ssl_version_string(void);

/// Constants that are macros in curl.h and do not import into Swift.
size_t ccurl_writefunc_pause(void);
size_t ccurl_readfunc_pause(void);
size_t ccurl_readfunc_abort(void);
int ccurl_pause_recv(void);
int ccurl_pause_send(void);
int ccurl_pause_all(void);
int ccurl_pause_cont(void);
long ccurl_global_default(void);

// === Multi-socket interface and the worker's epoll (reactor.c) ===

typedef int (*ccurl_socket_callback)(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp);
typedef int (*ccurl_timer_callback)(CURLM *multi, long timeout_ms, void *userp);

CURLMcode ccurl_multi_setopt_pointer(CURLM *handle, CURLMoption option, void *value);
CURLMcode ccurl_multi_setopt_socketfunction(CURLM *handle, ccurl_socket_callback value);
CURLMcode ccurl_multi_setopt_timerfunction(CURLM *handle, ccurl_timer_callback value);
typedef curl_socket_t (*ccurl_opensocket_callback)(void *clientp, curlsocktype purpose, struct curl_sockaddr *address);
CURLcode ccurl_easy_setopt_opensocketfunction(CURL *handle, ccurl_opensocket_callback value);
CURLMcode ccurl_multi_socket_action(CURLM *handle, int fd, int flags, int *running);
int ccurl_socket_timeout(void);
int ccurl_poll_in(void);
int ccurl_poll_out(void);
int ccurl_poll_remove(void);

/// An epoll instance (close-on-exec), or -1.
int ccurl_epoll_create(void);
/// Watches `fd` for the given directions (add or modify; a stale add/modify is retried as the other). 0 or -1.
int ccurl_epoll_set(int epfd, int fd, int in, int out, int add);
/// Stops watching `fd`. 0 or -1.
int ccurl_epoll_remove(int epfd, int fd);
/// Waits for up to `capacity` (at most 64) events; fills `fds` and `flags` (CURL_CSELECT_* bits). Count or -1.
int ccurl_epoll_wait(int epfd, int *fds, int *flags, int capacity, int timeout_ms);
/// A non-blocking eventfd, or -1.
int ccurl_eventfd(void);
void ccurl_eventfd_signal(int fd);
void ccurl_eventfd_drain(int fd);
/// Names the calling thread (at most 15 bytes are kept), as `top -H` and `perf` show it.
void ccurl_set_thread_name(const char *name);

#endif
