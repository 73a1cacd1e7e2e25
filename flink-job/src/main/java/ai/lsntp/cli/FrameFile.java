package ai.lsntp.cli;

import ai.lsntp.avro.TemperatureFrame;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificDatumReader;

/** Reads an Avro object container file of TemperatureFrame records (e.g. data/frames/*.avro). */
public final class FrameFile {
  private FrameFile() {}

  public static List<TemperatureFrame> read(Path file, int limit) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException("no frames file " + file.toAbsolutePath());
    }
    List<TemperatureFrame> out = new ArrayList<>();
    try (DataFileReader<TemperatureFrame> r =
        new DataFileReader<>(file.toFile(), new SpecificDatumReader<>(TemperatureFrame.class))) {
      while (r.hasNext() && (limit <= 0 || out.size() < limit)) {
        out.add(r.next());
      }
    }
    return out;
  }
}
