// Linux system calls that Glibc's Swift module does not export: epoll, eventfd, prctl.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

// prctl is variadic, which Swift cannot call: names the calling thread (first 15 bytes).
static inline int clinux_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, name, 0, 0, 0);
}

// accept4 is declared by <sys/socket.h> only under _GNU_SOURCE; the same prototype, repeated.
#include <sys/socket.h>
int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
