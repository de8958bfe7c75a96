/* The floor of a node exporter scrape: do what a scrape of rtmon-node-exporter asks of the
 * kernel, nothing else — no parsing, no encoding, no HTTP. One entry per line of the list
 * file: "PATH" = open, read to EOF, close; "D PATH" = list the directory; "S PATH" =
 * statfs. scripts/bench-node.sh builds it with cc, finds the entries with strace and
 * reports rtmon's CPU per scrape divided by this.
 *
 *   node-floor LIST_FILE ITERATIONS
 *     -> prints "<cpu ms per iteration> <files> <bytes> <directories> <statfs>"
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

static double cpu_ms(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PATHS_FILE ITERATIONS\n", argv[0]);
        return 2;
    }
    FILE *list = fopen(argv[1], "r");
    if (!list) {
        perror(argv[1]);
        return 1;
    }
    long iters = strtol(argv[2], NULL, 10);
    size_t cap = 256, n = 0;
    char **paths = malloc(cap * sizeof *paths);
    char line[4096];
    while (paths && fgets(line, sizeof line, list)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        if (n == cap) {
            cap *= 2;
            paths = realloc(paths, cap * sizeof *paths);
            if (!paths) break;
        }
        paths[n++] = strdup(line);
    }
    fclose(list);
    if (!paths || n == 0 || iters <= 0) {
        fprintf(stderr, "node-floor: no paths or no iterations\n");
        return 1;
    }
    static char buf[1 << 16];
    long long bytes = 0;
    size_t files = 0, dirs = 0, fss = 0;
    for (size_t p = 0; p < n; p++) {
        if (strncmp(paths[p], "D ", 2) == 0) dirs++;
        else if (strncmp(paths[p], "S ", 2) == 0) fss++;
        else files++;
    }
    double t0 = cpu_ms();
    for (long i = 0; i < iters; i++) {
        for (size_t p = 0; p < n; p++) {
            const char *path = paths[p];
            if (strncmp(path, "D ", 2) == 0) {
                DIR *d = opendir(path + 2);
                if (!d) continue;
                while (readdir(d)) {
                }
                closedir(d);
                continue;
            }
            if (strncmp(path, "S ", 2) == 0) {
                struct statfs st;
                statfs(path + 2, &st);
                continue;
            }
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            ssize_t r;
            while ((r = read(fd, buf, sizeof buf)) > 0) bytes += r;
            close(fd);
        }
    }
    double t1 = cpu_ms();
    printf("%.4f %zu %lld %zu %zu\n", (t1 - t0) / iters, files, bytes / iters, dirs, fss);
    return 0;
}
