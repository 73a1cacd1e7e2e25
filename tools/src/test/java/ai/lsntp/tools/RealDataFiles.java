package ai.lsntp.tools;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.TestPaths;
import java.nio.file.Files;
import java.nio.file.Path;

/** The real GRIB/NetCDF files the tool tests ingest. */
final class RealDataFiles {
  private RealDataFiles() {}

  /**
   * A shared real data file (../shared/data beside the project, or -Dlsntp.shared.data=DIR). A
   * clone without it gets the same real values as CF NetCDF, cut from the shipped frames
   * (data/frames, themselves ingested from these files), so ingest still reads a real file: `count`
   * frames from `start`, written under tmp.
   */
  static Path file(String sharedName, String shippedFrames, String start, int count, Path tmp) throws Exception {
    String p = System.getProperty("lsntp.shared.data");
    Path dir = p != null ? Path.of(p) : TestPaths.root().getParent().resolve("shared/data");
    Path f = dir.resolve(sharedName);
    if (Files.isRegularFile(f)) {
      return f;
    }
    Path shipped = TestPaths.ukFrames().getParent().resolve(shippedFrames);
    Path out = tmp.resolve(shippedFrames.replace(".avro", ".nc"));
    String script = String.join("\n",
        "import sys, numpy as np, xarray as xr, avro.datafile, avro.io",
        "recs = [r for r in avro.datafile.DataFileReader(open(sys.argv[1], 'rb'), avro.io.DatumReader())]",
        "recs = [r for r in recs if r['valid_time'].strftime('%Y-%m-%dT%H:%M') >= sys.argv[2]][:int(sys.argv[3])]",
        "r0 = recs[0]; h, w = r0['height'], r0['width']",
        "vals = np.stack([np.frombuffer(r['values'], '<f4').reshape(h, w) for r in recs])",
        "times = np.array([np.datetime64(r['valid_time'].replace(tzinfo=None), 'ns') for r in recs])",
        "lat = r0['lat0'] + r0['dlat'] * np.arange(h); lon = r0['lon0'] + r0['dlon'] * np.arange(w)",
        "xr.Dataset({'t2m': (('time', 'latitude', 'longitude'), vals, {'units': 'K', 'standard_name': 'air_temperature'})},",
        "           coords={'time': times, 'latitude': ('latitude', lat, {'units': 'degrees_north'}),",
        "                   'longitude': ('longitude', lon, {'units': 'degrees_east'})}).to_netcdf(sys.argv[4])");
    Process proc = new ProcessBuilder("/usr/bin/python3", "-c", script, shipped.toString(), start, Integer.toString(count),
        out.toString()).redirectErrorStream(true).start();
    String log = new String(proc.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(proc.waitFor(120, java.util.concurrent.TimeUnit.SECONDS) && proc.exitValue() == 0)
        .as("NetCDF cut of %s: %s", shipped, log).isTrue();
    System.out.println("no " + f + ": ingesting a NetCDF cut of the shipped real frames " + shipped + " instead");
    return out;
  }
}
