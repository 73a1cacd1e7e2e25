package ai.lsntp.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Reads a NetCDF file back with an independent reader (Python xarray decoding CF times), as JSON. */
final class NetcdfReader {
  private NetcdfReader() {}

  static final String SCRIPT = String.join("\n",
      "import json, sys, numpy as np, xarray as xr",
      "ds = xr.open_dataset(sys.argv[1])",
      "iso = lambda t: np.datetime_as_string(np.asarray(t).astype('datetime64[ms]'), unit='ms') + 'Z'",
      "out = {",
      " 'dims': {k: int(v) for k, v in ds.dims.items()},",
      " 'forecast_reference_time': iso(ds['forecast_reference_time'].values),",
      " 'frt_standard_name': ds['forecast_reference_time'].attrs.get('standard_name'),",
      " 'time': [iso(t) for t in ds['time'].values],",
      " 'time_standard_name': ds['time'].attrs.get('standard_name'),",
      " 'forecast_period_hours': [float(x / np.timedelta64(1, 'h')) for x in ds['forecast_period'].values],",
      " 'fp_standard_name': ds['forecast_period'].attrs.get('standard_name'),",
      " 'latitude': [float(x) for x in ds['latitude'].values],",
      " 'longitude': [float(x) for x in ds['longitude'].values],",
      " 'units': ds['t2m'].attrs.get('units'),",
      " 'standard_name': ds['t2m'].attrs.get('standard_name'),",
      " 'conventions': ds.attrs.get('Conventions'),",
      " 'grid_id': ds.attrs.get('grid_id'),",
      " 't2m': [float(x) for x in ds['t2m'].values.astype('float64').ravel()],",
      "}",
      "print(json.dumps(out))");

  static JsonNode read(Path nc) throws Exception {
    Process p = new ProcessBuilder("/usr/bin/python3", "-c", SCRIPT, nc.toString()).redirectErrorStream(false).start();
    byte[] stdout = p.getInputStream().readAllBytes();
    String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError("python could not read " + nc + ": " + stderr);
    }
    return new ObjectMapper().readTree(stdout);
  }
}
