/*
 * Checks the version macros of kino.h against the library it runs with:
 * KINO_VERSION_STRING must equal kino_version(), and must read
 * "KINO_VERSION_MAJOR.KINO_VERSION_MINOR.KINO_VERSION_PATCH".
 * Prints "version: ok <version>" and exits 0 when they agree.
 */
#include <stdio.h>
#include <string.h>

#include <kino.h>

#if !defined(KINO_VERSION_MAJOR) || !defined(KINO_VERSION_MINOR) || \
    !defined(KINO_VERSION_PATCH) || !defined(KINO_VERSION_STRING)
#error "kino.h lacks the version macros"
#endif

/* Usable in the preprocessor, as a program would to require a version. */
#if KINO_VERSION_MAJOR < 0 || KINO_VERSION_MINOR < 0 || KINO_VERSION_PATCH < 0
#error "kino.h version macros are not non-negative integers"
#endif

int main(void) {
    char numeric[64];
    snprintf(numeric, sizeof numeric, "%d.%d.%d", KINO_VERSION_MAJOR, KINO_VERSION_MINOR,
             KINO_VERSION_PATCH);
    const char *runtime = kino_version();
    if (runtime == NULL) {
        fprintf(stderr, "version: kino_version() returned NULL\n");
        return 1;
    }
    if (strcmp(KINO_VERSION_STRING, numeric) != 0) {
        fprintf(stderr, "version: KINO_VERSION_STRING \"%s\" but the numeric macros say %s\n",
                KINO_VERSION_STRING, numeric);
        return 1;
    }
    if (strcmp(KINO_VERSION_STRING, runtime) != 0) {
        fprintf(stderr, "version: compiled against %s, running with %s\n", KINO_VERSION_STRING,
                runtime);
        return 1;
    }
    printf("version: ok %s\n", runtime);
    return 0;
}
