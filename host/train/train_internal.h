/* Helpers the trainer's files share (not exported). */
#ifndef DGM_TRAIN_INTERNAL_H
#define DGM_TRAIN_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "dgm/model.h"

/* A JSON string or number as text into buf; false for other values. */
bool dgm_train_json_text(const json_t *v, char *buf, size_t len);
/* A decimal integer >= min. */
bool dgm_train_parse_int(const char *s, int64_t min, int64_t *out);

/* The run's options as a JSON object (recorded in a checkpoint's "extra" as "train_run"),
 * and back; false for a text that is not such a record. malloc'd text. */
char *dgm_train_run_to_json(const dgm_train_defaults *t);
bool dgm_train_run_from_json(const char *text, dgm_train_defaults *t);

#endif
