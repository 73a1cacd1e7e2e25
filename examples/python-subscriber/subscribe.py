#!/usr/bin/python3
"""Subscribe to the LS-NTP forecaster's topics: print each forecast at a point, each alert and
each verification score.

    ./lsntp schemas --export /tmp/lsntp-schemas          # the published schema set, once
    /usr/bin/python3 subscribe.py -b 127.0.0.1:9092 --schemas /tmp/lsntp-schemas --lat 51.5 --lon -0.1

Debian packages only: python3-confluent-kafka, python3-avro, python3-numpy. Reads read_committed
(the job's output is transactional: uncommitted or aborted records are never shown).
"""
from __future__ import annotations

import argparse
import sys
import time

from confluent_kafka import Consumer, KafkaException

from forecasts import ForecastAssembler, at_point, forecast_grid
from lsntp_records import RecordReader, SchemaSet, UnknownSchema


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-b", "--bootstrap-servers", default="127.0.0.1:9092")
    ap.add_argument("--schemas", required=True, help="published schema set (./lsntp schemas --export DIR)")
    ap.add_argument("--prefix", default="lsntp", help="topic prefix: PREFIX.forecasts, .alerts, .verification")
    ap.add_argument("--lat", type=float, default=51.5)
    ap.add_argument("--lon", type=float, default=-0.1)
    ap.add_argument("--grid", help="only this grid id")
    ap.add_argument("--max-forecasts", type=int, default=0, help="stop after N forecasts (0: never)")
    ap.add_argument("--idle-timeout", type=float, default=0, help="stop after this many seconds without a record (0: never)")
    ap.add_argument("--group-id", default=None, help="consumer group (default: a fresh one, from the beginning)")
    args = ap.parse_args(argv)

    schemas = SchemaSet(args.schemas)
    readers = {f"{args.prefix}.forecasts": RecordReader(schemas, "Forecast"),
               f"{args.prefix}.alerts": RecordReader(schemas, "Alert"),
               f"{args.prefix}.verification": RecordReader(schemas, "Verification")}
    consumer = Consumer({"bootstrap.servers": args.bootstrap_servers,
                         "group.id": args.group_id or f"lsntp-python-subscriber-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.subscribe(list(readers))
    forecasts = 0
    tiles = ForecastAssembler()  # a big grid's forecast comes as tiles: one line once all are there
    last = time.monotonic()
    try:
        while not args.max_forecasts or forecasts < args.max_forecasts:
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
            reader = readers[msg.topic()]
            try:
                rec = reader.decode(msg.value())
            except UnknownSchema as e:
                print(f"SKIPPED {msg.topic()}@{msg.offset()}: {e}", file=sys.stderr)
                continue
            if args.grid and rec["grid_id"] != args.grid:
                continue
            if reader.record == "Forecast":
                rec = tiles.add(rec)
                if rec is None:
                    continue
            writer = reader.writer_of(msg.value())
            wire = f"{writer[0]} v{writer[1]}" if writer else "plain Avro"
            if reader.record == "Forecast":
                forecasts += 1
                g = forecast_grid(rec)
                point = at_point(g, args.lat, args.lon)
                where = ("outside the grid" if point is None else
                         " ".join(f"+{(t - g.issue_time).total_seconds() / 3600:g}h {v:.4f}" for t, v in zip(g.valid_times, point)))
                print(f"FORECAST {g.grid_id} issued {g.issue_time:%Y-%m-%dT%H:%MZ} {g.model} grid {g.values.shape} "
                      f"K; at {args.lat},{args.lon}: {where} [{wire}]", flush=True)
            elif reader.record == "Alert":
                print(f"ALERT {rec['grid_id']} {rec['kind']} rule {rec['rule']} lead {rec['lead']} "
                      f"value {rec['value']:.2f} at {rec['lat']:.2f},{rec['lon']:.2f} [{wire}]", flush=True)
            else:
                pers = rec["persistence_mae"]
                print(f"VERIFICATION {rec['grid_id']} issued {rec['issue_time']:%Y-%m-%dT%H:%MZ} lead {rec['lead']} "
                      f"MAE {rec['mae']:.4f} K persistence {'-' if pers is None else f'{pers:.4f}'} K [{wire}]", flush=True)
    finally:
        consumer.close()
    print(f"subscriber: {forecasts} forecasts", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
