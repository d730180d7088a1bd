/*
 * Jazzer.js 4.0's prebuilt addon (fuzzer-linux-x64.node) was linked against glibc 2.38 and
 * GCC 13's libstdc++; Debian bookworm has glibc 2.36 and GCC 12. It needs only three symbols
 * from those newer versions, provided here with the same meaning:
 * - __isoc23_strtol/strtoul: C23 spellings of strtol/strtoul (they differ only in accepting
 *   "0b" binary prefixes, which the addon never parses);
 * - std::ios_base_library_init(): in GCC 13 an empty function that exists only so that code
 *   using <iostream> references libstdc++'s stream initialisation.
 * scripts/jazzer-compat.sh links this into the addon (see there).
 */
#include <stdlib.h>

long __isoc23_strtol(const char *s, char **end, int base) { return strtol(s, end, base); }

unsigned long __isoc23_strtoul(const char *s, char **end, int base) { return strtoul(s, end, base); }

void _ZSt21ios_base_library_initv(void) {}
