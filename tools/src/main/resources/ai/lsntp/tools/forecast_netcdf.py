"""Writes LS-NTP forecasts as CF NetCDF files, for `lsntp watch --netcdf-dir`.

Started once by the Java watch command (/usr/bin/python3, Debian's xarray + netCDF4). Protocol:
one JSON object per stdin line describing a forecast whose values (beta*height*width float32
little-endian, lead-major, row-major) are in the file named by "values_path"; one reply line per
request on stdout: "ok PATH" or "error MESSAGE".
"""
import json
import sys

try:
    import numpy as np
    import xarray as xr
except ImportError as e:  # pragma: no cover - reported to the Java side
    print(f"error cannot import numpy/xarray ({e}); install python3-xarray python3-netcdf4", flush=True)
    sys.exit(3)


def write(req):
    beta, h, w = req["beta"], req["height"], req["width"]
    vals = np.fromfile(req["values_path"], dtype="<f4")
    if vals.size != beta * h * w:
        raise ValueError(f"{vals.size} values, expected beta*height*width = {beta}*{h}*{w}")
    vals = vals.reshape(beta, h, w)
    issue = np.datetime64(req["issue_time_ms"], "ms").astype("datetime64[ns]")
    valid = np.array(req["valid_times_ms"], dtype="datetime64[ms]").astype("datetime64[ns]")
    lead = (valid - issue).astype("timedelta64[ns]")
    lat = req["lat0"] + req["dlat"] * np.arange(h)
    lon = req["lon0"] + req["dlon"] * np.arange(w)
    ds = xr.Dataset(
        {"t2m": (("time", "latitude", "longitude"), vals.astype(np.float32), {
            "standard_name": "air_temperature", "long_name": "2 metre temperature forecast", "units": req["units"]})},
        coords={
            "time": ("time", valid, {"standard_name": "time", "long_name": "valid time", "axis": "T"}),
            "forecast_period": ("time", lead, {"standard_name": "forecast_period", "long_name": "lead time"}),
            "forecast_reference_time": ((), issue, {"standard_name": "forecast_reference_time",
                                                    "long_name": "issue time (valid time of the newest input frame)"}),
            "latitude": ("latitude", lat, {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"}),
            "longitude": ("longitude", lon, {"standard_name": "longitude", "units": "degrees_east", "axis": "X"}),
        },
        attrs={
            "Conventions": "CF-1.8",
            "title": f"LS-NTP 2 m temperature forecast for {req['grid_id']}",
            "source": f"{req['model_name']} {req['model_version']}",
            "grid_id": req["grid_id"],
            "model_name": req["model_name"],
            "model_version": req["model_version"],
            "produced_at": req["produced_at"],
        },
    )
    ds["t2m"].attrs["coordinates"] = "forecast_reference_time forecast_period"
    enc = {
        "t2m": {"_FillValue": np.float32(np.nan)},
        "time": {"units": "hours since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian", "dtype": "float64"},
        "forecast_reference_time": {"units": "hours since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian",
                                    "dtype": "float64"},
        "forecast_period": {"units": "hours", "dtype": "float64"},
        "latitude": {"_FillValue": None}, "longitude": {"_FillValue": None},
    }
    tmp = req["out"] + ".part"
    ds.to_netcdf(tmp, format="NETCDF4", engine="netcdf4", encoding=enc)
    import os
    os.replace(tmp, req["out"])
    return req["out"]


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            print("ok " + write(json.loads(line)), flush=True)
        except Exception as e:  # one bad forecast must not end the watch
            print(f"error {type(e).__name__}: {e}".replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
