package ai.lsntp.testing;

import ai.lsntp.avro.TemperatureFrame;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificDatumReader;

/** The shipped ERA5 UK frames (data/frames/era5-uk-2019-03.avro), read with today's schema. */
public final class RealFrames {
  private RealFrames() {}

  /** The first {@code limit} shipped ERA5 UK frames (every one for a limit of 0). */
  public static List<TemperatureFrame> uk(int limit) {
    return read(TestPaths.ukFrames(), limit);
  }

  public static List<TemperatureFrame> read(Path file, int limit) {
    if (!Files.exists(file)) {
      throw new IllegalStateException("missing shipped data file " + file);
    }
    List<TemperatureFrame> out = new ArrayList<>();
    try (DataFileReader<TemperatureFrame> r =
        new DataFileReader<>(file.toFile(), new SpecificDatumReader<>(TemperatureFrame.class))) {
      while (r.hasNext() && (limit <= 0 || out.size() < limit)) {
        out.add(r.next());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }
}
