#include "risinggen/base/geo.h"

#include <math.h>

double rg_distance_km(double lat1, double lng1, double lat2, double lng2)
{
    const double r = 6371.0088, rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlng = (lng2 - lng1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlng / 2) * sin(dlng / 2);
    return 2 * r * asin(fmin(1.0, sqrt(a)));
}
