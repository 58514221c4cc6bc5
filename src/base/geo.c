#include "risinggen/base/geo.h"

#include <math.h>

double rg_distance_km(double lat1, double lng1, double lat2, double lng2)
{
    const double r = RG_EARTH_RADIUS_KM, rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlng = (lng2 - lng1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlng / 2) * sin(dlng / 2);
    return 2 * r * asin(fmin(1.0, sqrt(a)));
}

/* A circle of angular radius d around latitude phi reaches latitudes
 * phi ± d and, when it holds no pole, longitudes within
 * asin(sin d / cos phi) of its centre (the tangent meridians). A small
 * margin covers rounding, since the exact distance is tested after. */
void rg_geo_box(double lat, double lng, double radius_km, double *dlat, double *dlng)
{
    (void)lng;
    const double rad = M_PI / 180.0, margin = 1e-6;
    double d = radius_km / RG_EARTH_RADIUS_KM; /* radians */
    *dlat = d / rad + margin;
    double s = sin(fmin(d, M_PI / 2)) / cos(lat * rad);
    if (d >= M_PI / 2 || lat + *dlat >= 90 || lat - *dlat <= -90 || !(s < 1))
        *dlng = 180;
    else
        *dlng = fmin(180, asin(s) / rad + margin);
}
