/* Load for bench/slowloris.sh: N connections spread over source addresses
 * 127.0.1.1 … 127.0.1.A, each sending a request head one byte every two
 * seconds and opening again when the server closes it, for S seconds.
 * Prints how many connections it opened and how many the server closed.
 *   slowloris PORT N A S */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int open_from(int port, int a)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    char ip[32];
    snprintf(ip, sizeof ip, "127.0.1.%d", a + 1);
    inet_pton(AF_INET, ip, &src.sin_addr);
    dst.sin_port = htons((unsigned short)port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0 ||
        (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    int port = atoi(argv[1]), n = atoi(argv[2]), addrs = atoi(argv[3]), secs = atoi(argv[4]);
    struct rlimit rl = {(rlim_t)n + 64, (rlim_t)n + 64};
    setrlimit(RLIMIT_NOFILE, &rl);
    int *fd = calloc((size_t)n, sizeof *fd);
    size_t *sent = calloc((size_t)n, sizeof *sent);
    const char *head =
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    long opened = 0, closed = 0;
    time_t end = time(NULL) + secs;
    for (int i = 0; i < n; i++)
        if ((fd[i] = open_from(port, i % addrs)) >= 0)
            opened++;
    while (time(NULL) < end) {
        for (int i = 0; i < n; i++) {
            if (fd[i] < 0) {
                if ((fd[i] = open_from(port, i % addrs)) >= 0)
                    opened++, sent[i] = 0;
                continue;
            }
            char buf[256];
            ssize_t got = recv(fd[i], buf, sizeof buf, MSG_DONTWAIT);
            if (got == 0 ||
                (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)) {
                close(fd[i]);
                fd[i] = -1;
                closed++;
                continue;
            }
            if (sent[i] < strlen(head) && send(fd[i], head + sent[i], 1, MSG_NOSIGNAL) == 1)
                sent[i]++;
        }
        poll(NULL, 0, 2000);
    }
    printf("slow connections opened %ld, closed by the server %ld\n", opened, closed);
    return 0;
}
