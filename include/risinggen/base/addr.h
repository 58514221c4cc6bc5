/* Client addresses as keys of limits. */
#ifndef RISINGGEN_BASE_ADDR_H
#define RISINGGEN_BASE_ADDR_H

#define RG_ADDR_MAX 46 /* an IPv6 address as text, with its NUL */

/* The part of a client address that limits count by, into out: an IPv4
 * address whole, an IPv6 address reduced to its /64 (one host usually has
 * a whole /64, so counting whole IPv6 addresses would count nothing), any
 * other text as it is. */
void rg_addr_bucket(const char *addr, char out[RG_ADDR_MAX]);

#endif
