#!/usr/bin/python3
"""Archive the LS-NTP forecasts into a CF-conventions Zarr store that xarray opens as one dataset.

    ./lsntp schemas --export /tmp/lsntp-schemas
    /usr/bin/python3 archive.py -b 127.0.0.1:9092 --schemas /tmp/lsntp-schemas --store forecasts.zarr
    /usr/bin/python3 -c "import xarray; print(xarray.open_zarr('forecasts.zarr', group='era5-uk-0p25'))"

One Zarr group per grid: air_temperature (forecast_reference_time, forecast_period, latitude,
longitude) in K, a scalar height coordinate of 2 m, the model version of each issue. The store and
the consumer group's offsets move together: a forecast is appended, then its offset committed, and
an issue time already in the store is skipped, so a restart (or a crash between the two) neither
loses nor duplicates a time. A forecast that comes as tiles is appended once all its tiles are
there, and offsets are committed only while no forecast is half read, so a restart reads a
half-read forecast's tiles again. Debian packages only: python3-confluent-kafka, python3-avro,
python3-xarray, python3-zarr.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import xarray as xr
import zarr
from confluent_kafka import Consumer, KafkaException

from forecasts import ForecastAssembler, forecast_grid
from lsntp_records import RecordReader, SchemaSet, UnknownSchema

# Appending encodes each new issue time with the store's integer time units; xarray warns that the
# integers have no fill value, which a coordinate that is never missing does not need.
warnings.filterwarnings("ignore", message="saving variable None with floating point data as an integer dtype")


def as_dataset(g) -> xr.Dataset:
    ref = np.datetime64(g.issue_time.replace(tzinfo=None), "ns")
    periods = np.array([np.timedelta64(int((t - g.issue_time).total_seconds()), "s") for t in g.valid_times],
                       dtype="timedelta64[ns]")
    ds = xr.Dataset(
        {"air_temperature": (("forecast_reference_time", "forecast_period", "latitude", "longitude"),
                             g.values[np.newaxis].astype(np.float32),
                             {"standard_name": "air_temperature", "long_name": "2 m air temperature forecast",
                              "units": "K"}),
         "model_version": (("forecast_reference_time",), np.array([g.model], dtype="U64"),
                           {"long_name": "model name and version that made the forecast"})},
        coords={"forecast_reference_time": ("forecast_reference_time", [ref],
                                            {"standard_name": "forecast_reference_time"}),
                "forecast_period": ("forecast_period", periods, {"standard_name": "forecast_period"}),
                "latitude": ("latitude", g.latitudes, {"standard_name": "latitude", "units": "degrees_north"}),
                "longitude": ("longitude", g.longitudes, {"standard_name": "longitude", "units": "degrees_east"}),
                "height": ((), 2.0, {"standard_name": "height", "units": "m", "positive": "up", "axis": "Z"})},
        attrs={"Conventions": "CF-1.8", "title": f"LS-NTP forecasts of grid {g.grid_id}",
               "source": "lsntp streaming forecaster (Kafka topic of Forecast records)"})
    ds["air_temperature"].attrs["coordinates"] = "height"
    return ds


class Archive:
    def __init__(self, path: str):
        self.path = path
        self.times: dict[str, set] = {}

    def issued(self, grid: str) -> set:
        """Issue times already in the grid's group (read once per grid, then kept up to date)."""
        if grid not in self.times:
            have = set()
            if os.path.exists(self.path) and grid in zarr.open_group(self.path, mode="r"):
                with xr.open_zarr(self.path, group=grid) as ds:
                    have = set(ds["forecast_reference_time"].values.astype("datetime64[ns]").tolist())
            self.times[grid] = have
        return self.times[grid]

    def append(self, g) -> bool:
        ds = as_dataset(g)
        t = ds["forecast_reference_time"].values[0].astype("datetime64[ns]").tolist()
        have = self.issued(g.grid_id)
        if t in have:
            return False
        if have:
            ds.to_zarr(self.path, group=g.grid_id, append_dim="forecast_reference_time")
        else:
            # explicit time encodings: left to itself xarray picks units from the first forecast
            # ("days since <its issue>"), in which every later hourly issue time rounds to the first
            ds.to_zarr(self.path, group=g.grid_id, mode="w", encoding={
                "forecast_reference_time": {"units": "seconds since 1970-01-01T00:00:00", "dtype": "int64",
                                            "calendar": "proleptic_gregorian"},
                "forecast_period": {"units": "seconds", "dtype": "int64"}})
        have.add(t)
        return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-b", "--bootstrap-servers", default="127.0.0.1:9092")
    ap.add_argument("--schemas", required=True, help="published schema set (./lsntp schemas --export DIR)")
    ap.add_argument("--topic", default="lsntp.forecasts")
    ap.add_argument("--store", required=True, help="the Zarr store (a directory)")
    ap.add_argument("--group-id", default="lsntp-zarr-archive", help="consumer group whose offsets follow the store")
    ap.add_argument("--max-forecasts", type=int, default=0, help="stop after appending N forecasts (0: never)")
    ap.add_argument("--idle-timeout", type=float, default=0, help="stop after this many seconds without a record (0: never)")
    args = ap.parse_args(argv)

    reader = RecordReader(SchemaSet(args.schemas), "Forecast")
    archive = Archive(args.store)
    consumer = Consumer({"bootstrap.servers": args.bootstrap_servers, "group.id": args.group_id,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.subscribe([args.topic])
    appended = skipped = 0
    tiles = ForecastAssembler()
    last = time.monotonic()
    try:
        while not args.max_forecasts or appended < args.max_forecasts:
            msg = consumer.poll(0.5)
            if msg is None:
                if not consumer.assignment():
                    last = time.monotonic()  # still joining the group: not idle yet
                elif args.idle_timeout and time.monotonic() - last > args.idle_timeout:
                    break
                continue
            if msg.error():
                raise KafkaException(msg.error())
            last = time.monotonic()
            try:
                rec = tiles.add(reader.decode(msg.value()))
            except UnknownSchema as e:
                print(f"archive: offset {msg.offset()} not archived: {e}", file=sys.stderr, flush=True)
                return 1  # never commit past a record we could not read
            if rec is None:
                continue  # more tiles of this forecast to come
            g = forecast_grid(rec)
            if archive.append(g):
                appended += 1
                print(f"archived {g.grid_id} {g.issue_time:%Y-%m-%dT%H:%MZ}", flush=True)
            else:
                skipped += 1
            if not tiles.incomplete():
                consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()
    print(f"archive: {appended} forecasts appended, {skipped} already in {args.store}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
