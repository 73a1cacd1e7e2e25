package ai.lsntp.tools;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.TestPaths;
import java.nio.file.Files;
import java.nio.file.Path;

/** The real GRIB/NetCDF files the tool tests ingest: the reanalysis files committed under data/raw. */
final class RealDataFiles {
  private RealDataFiles() {}

  static final String ERA5_GRIB = "era5-t2m-uk-2019-03-01_24-hourly.grib";
  static final String NCEP_NETCDF = "ncep-air-sig995-na-2013-01_2014-02-6hourly.nc";

  /** {@code data/raw/<name>}; it is part of the repository, so a missing file fails the test. */
  static Path file(String name) {
    Path f = TestPaths.root().resolve("data/raw").resolve(name);
    assertThat(Files.isRegularFile(f)).as("real data file %s (committed under data/raw)", f).isTrue();
    return f;
  }
}
