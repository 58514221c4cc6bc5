/* Distances on the Earth. */
#ifndef RISINGGEN_BASE_GEO_H
#define RISINGGEN_BASE_GEO_H

/* Great-circle distance in kilometres between two WGS84 points. */
double rg_distance_km(double lat1, double lng1, double lat2, double lng2);

#endif
