/* A fresh scratch folder for a test program, under $RG_TEST_TMP or /tmp. */
#ifndef RG_TEST_TMPDIR_H
#define RG_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static inline const char *rg_test_tmpdir(void)
{
    static char dir[512];
    const char *base = getenv("RG_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(dir, sizeof dir, "%s/rgtest-XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    return dir;
}

static inline void rg_test_rmdir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif
