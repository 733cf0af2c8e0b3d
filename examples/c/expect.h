/*
 * The check the C examples share: EXPECT(call, want) runs `call` and, when
 * it does not return the media_result `want`, prints both and counts a
 * failure in the including file's `failures`.
 */
#ifndef MEDIA_EXAMPLES_EXPECT_H
#define MEDIA_EXAMPLES_EXPECT_H

#include <stdio.h>

#include "media.h"

#define EXPECT(call, want)                                                                           \
    do {                                                                                             \
        media_result got_ = (call);                                                                  \
        if (got_ != (want)) {                                                                        \
            fprintf(stderr, "FAIL %s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, #call, \
                    media_result_str(got_), media_result_str(want));                                 \
            failures++;                                                                              \
        }                                                                                            \
    } while (0)

#endif
