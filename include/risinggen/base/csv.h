/* CSV output (RFC 4180) safe to open in a spreadsheet. */
#ifndef RISINGGEN_BASE_CSV_H
#define RISINGGEN_BASE_CSV_H

#include <stdbool.h>

#include "risinggen/base/buf.h"

/* Appends one field of text s (NULL: empty) and then "," or, when last,
 * "\r\n". A field holding a comma, a quote, CR or LF is quoted, quotes
 * doubled. A field starting with =, +, -, @, tab, CR or LF, which a
 * spreadsheet could run as a formula, is quoted with a ' in front. */
void rg_csv_field(rg_buf *b, const char *s, bool last);

#endif
