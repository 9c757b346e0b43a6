"""Generates city.geojson, the demo city's boundaries (run once; the output is checked in).

A fictional city of 2 precincts, 8 beats and 3 neighbourhoods. Beats tile the city
exactly: they share jittered interior vertices, so no point falls between two beats.
Neighbourhoods are strips that deliberately do not line up with beats.
"""
import json, random

random.seed(7)
LAT0, LON0 = 41.800, -87.700          # south-west corner
DLAT, DLON = 0.0125, 0.0150           # one beat cell: about 1.4 km by 1.25 km
COLS, ROWS = 4, 2

def jitter(i, j, kind):
    border_x = i in (0, COLS * 2)
    border_y = j in (0, ROWS * 2)
    dx = 0 if border_x else random.uniform(-0.18, 0.18)
    dy = 0 if border_y else random.uniform(-0.18, 0.18)
    return dx, dy

# Points on a half-cell grid (corners and edge midpoints), jittered inside the city.
pts = {}
for i in range(COLS * 2 + 1):
    for j in range(ROWS * 2 + 1):
        dx, dy = jitter(i, j, None)
        x = i / 2 + dx * 0.5
        y = j / 2 + dy * 0.5
        pts[(i, j)] = (round(LON0 + x * DLON, 6), round(LAT0 + y * DLAT, 6))

def ring(path):
    coords = [pts[p] for p in path]
    coords.append(coords[0])
    return [list(c) for c in coords]

def cell_path(c, r):
    i0, j0 = c * 2, r * 2
    return [(i0, j0), (i0 + 1, j0), (i0 + 2, j0), (i0 + 2, j0 + 1), (i0 + 2, j0 + 2),
            (i0 + 1, j0 + 2), (i0, j0 + 2), (i0, j0 + 1)]

features = []
precincts = [("P1", "Westside Precinct", 0, 2), ("P2", "Eastside Precinct", 2, 4)]
for code, name, c0, c1 in precincts:
    bottom = [(i, 0) for i in range(c0 * 2, c1 * 2 + 1)]
    right = [(c1 * 2, j) for j in range(1, ROWS * 2 + 1)]
    top = [(i, ROWS * 2) for i in range(c1 * 2 - 1, c0 * 2 - 1, -1)]
    left = [(c0 * 2, j) for j in range(ROWS * 2 - 1, 0, -1)]
    features.append({"type": "Feature",
                     "properties": {"kind": "precinct", "code": code, "name": name},
                     "geometry": {"type": "Polygon", "coordinates": [ring(bottom + right + top + left)]}})

beat_names = {
    (0, 0): "Mill Creek", (1, 0): "Foundry Row", (0, 1): "Lindenwood", (1, 1): "Cathedral Hill",
    (2, 0): "Rail Yards", (3, 0): "Harbor Flats", (2, 1): "Market Square", (3, 1): "Lakeview Terrace",
}
beat_codes = {}
for c in range(COLS):
    for r in range(ROWS):
        precinct = "P1" if c < 2 else "P2"
        code = f"{1 if c < 2 else 2}0{1 if c < 2 else 2}{(c % 2) + 1 + r * 2}"
        beat_codes[(c, r)] = code
        features.append({"type": "Feature",
                         "properties": {"kind": "beat", "code": code, "name": beat_names[(c, r)],
                                        "precinct": precinct},
                         "geometry": {"type": "Polygon", "coordinates": [ring(cell_path(c, r))]}})

# Neighbourhoods: three strips whose edges fall inside beats.
strips = [("Old Town", 0.0, 1.35, 18400), ("Riverside", 1.35, 2.7, 23900), ("Bayshore", 2.7, 4.0, 15200)]
for name, x0, x1, pop in strips:
    lon0, lon1 = LON0 + x0 * DLON, LON0 + x1 * DLON
    lat0, lat1 = LAT0, LAT0 + ROWS * DLAT
    coords = [[round(lon0, 6), round(lat0, 6)], [round(lon1, 6), round(lat0, 6)],
              [round(lon1, 6), round(lat1, 6)], [round(lon0, 6), round(lat1, 6)],
              [round(lon0, 6), round(lat0, 6)]]
    beats = sorted(code for (c, r), code in beat_codes.items() if c < x1 - 0.05 and c + 1 > x0 + 0.05)
    features.append({"type": "Feature",
                     "properties": {"kind": "neighborhood", "name": name, "population": pop, "beats": beats},
                     "geometry": {"type": "Polygon", "coordinates": [coords]}})

with open("city.geojson", "w") as f:
    json.dump({"type": "FeatureCollection", "features": features}, f, indent=1)
    f.write("\n")
print(len(features), "features")
