"""GEO_DISTANCE: great-circle distance by the haversine formula (geodistance.json)."""

from __future__ import annotations

import math

from ksql_emulator import sql_types as ty
from ksql_emulator.functions.registry import FunctionRegistry

__all__ = ["geo_distance", "register"]

# Mean Earth radius in ksqlDB's GeoDistance UDF.
_RADIUS = {"KM": 6371.0, "KMS": 6371.0, "KILOMETER": 6371.0, "KILOMETERS": 6371.0,
           "MI": 3959.0, "MILES": 3959.0, "MILE": 3959.0}  # fmt: skip


def geo_distance(
    lat1: float | None,
    lon1: float | None,
    lat2: float | None,
    lon2: float | None,
    unit: str | None = None,
) -> float | None:
    """Distance between two points in km (default) or miles."""
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    for lat in (lat1, lat2):
        if not -90 <= lat <= 90:
            raise ValueError(f"valid latitude values for GeoDistance are -90 to 90, got {lat}")
    for lon in (lon1, lon2):
        if not -180 <= lon <= 180:
            raise ValueError(f"valid longitude values for GeoDistance are -180 to 180, got {lon}")
    radius = _RADIUS.get((unit or "KM").strip().upper())
    if radius is None:
        raise ValueError("GeoDistance function units parameter must be one of KM or MI")
    # The operation order of ksqlDB's GeoDistance, so results agree to the last bit.
    phi1, phi2 = _to_radians(lat1), _to_radians(lat2)
    half_lat = math.sin(_to_radians(lat2 - lat1) / 2)
    half_lon = math.sin(_to_radians(lon2 - lon1) / 2)
    a = half_lat * half_lat + half_lon * half_lon * math.cos(phi1) * math.cos(phi2)
    return 2 * math.asin(math.sqrt(a)) * radius


def _to_radians(degrees: float) -> float:
    return degrees / 180.0 * math.pi


def register(reg: FunctionRegistry) -> None:
    """Add GEO_DISTANCE to `reg`."""
    d = ty.DOUBLE
    doc = "Great-circle distance between two lat/lon points, in KM (default) or MI."
    reg.register(
        "GEO_DISTANCE",
        [d, d, d, d],
        d,
        geo_distance,
        null_in_null_out=False,
        description=doc,
        java_name="geo_distance",
        category="OTHER",
    )
    reg.register(
        "GEO_DISTANCE",
        [d, d, d, d, ty.STRING],
        d,
        geo_distance,
        null_in_null_out=False,
        category="OTHER",
    )
