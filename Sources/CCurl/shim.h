// libcurl (apt: libcurl4-openssl-dev): outbound HTTP(S) for webhook deliveries, driven by the
// service's own event loops through the multi-socket API. curl_easy_setopt, curl_multi_setopt
// and curl_easy_getinfo are variadic, which Swift cannot call: one typed wrapper per kind of
// argument.
#include <curl/curl.h>

typedef size_t (*ccurl_write_callback)(char *data, size_t size, size_t count, void *user);
typedef int (*ccurl_socket_callback)(CURL *easy, curl_socket_t socket, int what, void *user, void *socket_user);
typedef int (*ccurl_timer_callback)(CURLM *multi, long timeout_ms, void *user);

static inline CURLcode ccurl_easy_setopt_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode ccurl_easy_setopt_pointer(CURL *easy, CURLoption option, const void *value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode ccurl_easy_setopt_write(CURL *easy, ccurl_write_callback callback) {
    return curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, callback);
}
static inline CURLcode ccurl_easy_setopt_off(CURL *easy, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode ccurl_easy_getinfo_long(CURL *easy, CURLINFO info, long *value) {
    return curl_easy_getinfo(easy, info, value);
}
static inline CURLcode ccurl_easy_getinfo_pointer(CURL *easy, CURLINFO info, void **value) {
    return curl_easy_getinfo(easy, info, value);
}
static inline CURLMcode ccurl_multi_setopt_socket(CURLM *multi, ccurl_socket_callback callback, void *user) {
    CURLMcode code = curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, callback);
    return code != CURLM_OK ? code : curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, user);
}
static inline CURLMcode ccurl_multi_setopt_timer(CURLM *multi, ccurl_timer_callback callback, void *user) {
    CURLMcode code = curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, callback);
    return code != CURLM_OK ? code : curl_multi_setopt(multi, CURLMOPT_TIMERDATA, user);
}
static inline CURLcode ccurl_message_result(CURLMsg *message) {
    return message->data.result;
}
