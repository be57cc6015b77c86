/* Helpers the trainer's files share (not exported). */
#ifndef DGM_TRAIN_INTERNAL_H
#define DGM_TRAIN_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* A JSON string or number as text into buf; false for other values. */
bool dgm_train_json_text(const json_t *v, char *buf, size_t len);
/* A decimal integer >= min. */
bool dgm_train_parse_int(const char *s, int64_t min, int64_t *out);

#endif
