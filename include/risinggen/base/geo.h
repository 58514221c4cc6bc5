/* Distances on the Earth. */
#ifndef RISINGGEN_BASE_GEO_H
#define RISINGGEN_BASE_GEO_H

#include <stdbool.h>

/* The Earth's mean radius (IUGG), as every distance here uses it. */
#define RG_EARTH_RADIUS_KM 6371.0088

/* Great-circle distance in kilometres between two WGS84 points. */
double rg_distance_km(double lat1, double lng1, double lat2, double lng2);

/* The half sizes, in degrees, of the smallest latitude/longitude box that
 * holds every point within radius_km of (lat, lng): *dlat, and *dlng, which
 * is 180 (every longitude) when the circle holds a pole. A box that crosses
 * the antimeridian is (lng - dlng, lng + dlng) taken modulo 360: callers
 * test it shifted by -360 and +360 as well. */
void rg_geo_box(double lat, double lng, double radius_km, double *dlat, double *dlng);

#endif
