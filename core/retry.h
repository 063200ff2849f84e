/* The one retry policy: exponential backoff with full jitter, capped, never
 * shorter than what the server asked for (Retry-After). */
#ifndef ES_RETRY_H
#define ES_RETRY_H

/** Default number of attempts for one operation (first try included). */
#define ES_RETRY_ATTEMPTS 5

/** Delay in seconds before attempt `attempt` (2 = first retry), at least
 *  `at_least`. */
double es_retry_delay(unsigned attempt, double at_least);

/** Scale every delay of ours — backoff and the failed-items ledger's
 *  retry times (tests shrink them; 1.0 normally).  Set from the
 *  EMBSYNC_RETRY_SCALE environment variable at start. */
void es_retry_set_scale(double scale);
double es_retry_scale(void);


#endif
