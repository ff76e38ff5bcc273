/* Order statistics shared by the checks (harness/checks.c) and the HTML
 * report (reports/html.c), so both read a percentile the same way. */
#ifndef CO_STATS_H
#define CO_STATS_H

#include <stddef.h>

/* Nearest-rank percentile (p in 0..100) of v[0..n), which it sorts in
 * place.  Returns 0 when n is 0. */
double co_percentile(double *v, size_t n, double p);

#endif
