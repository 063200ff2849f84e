/* Named points in the engine where a crash would cut a multi-step change
 * in two.  The daemon's build does nothing there; the crash tests link a
 * build of their own (tests/crash/crashpoint.c) that can kill or signal
 * the process at a point named in the environment, so each window can be
 * hit exactly instead of by luck. */
#ifndef ES_CRASHPOINT_H
#define ES_CRASHPOINT_H

/** Mark point `name` ("after-store", "rebuild-between", ...). */
void es_crashpoint(const char *name);

#endif
