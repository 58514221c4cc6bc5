/* The mapping between the documents port's JSON and BSON
 * (docs/design/adapters.md, "Documents on MongoDB"). Pure functions of
 * libbson: no server, unit-tested in tests/unit/test_bson_json.c.
 *
 * JSON to BSON, and back to the same JSON:
 * - a string of 24 lowercase hexadecimal digits is an ObjectId (the ids of
 *   people, events and venues, and every reference to them);
 * - a string "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DDTHH:MM:SS.mmmZ" (how the
 *   service writes instants) is a UTC datetime, read back in the same one
 *   of the two forms: whole seconds without the milliseconds;
 * - an integer is an int64; a real is a Decimal128 of its shortest
 *   decimal text (1.5, never 1.4999999999999999), so that amounts keep
 *   their decimal value; Decimal128, double and int32 read back as numbers;
 * - any other string (U+0000 included), true, false, null, objects and
 *   arrays as themselves. */
#ifndef RG_MONGODB_BSON_JSON_H
#define RG_MONGODB_BSON_JSON_H

#include <bson/bson.h>
#include <jansson.h>
#include <stdbool.h>

/* Appends v under key (klen bytes) to b; false when BSON cannot hold it
 * (a document nested too deep, a key bson refuses). */
bool rg__bson_append_json(bson_t *b, const char *key, int klen, const json_t *v);
/* The BSON document of a JSON object, into b (initialised by the caller). */
bool rg__bson_from_json(bson_t *b, const json_t *obj);
/* Appends a text value as the stored form of that string (ObjectId, date
 * or string, as above): what a filter on text compares with. */
bool rg__bson_append_text(bson_t *b, const char *key, int klen, const char *text);
/* The JSON value at the iterator (a new reference), or NULL for a BSON
 * type the port never writes (binary, regex, …), which the caller reports. */
json_t *rg__json_from_iter(const bson_iter_t *it);
/* The JSON object of a BSON document (a new reference), or NULL. */
json_t *rg__json_from_bson(const bson_t *b);

#endif
