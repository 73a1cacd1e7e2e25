package ai.lsntp.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.FrameTiles;
import ai.lsntp.testing.RealFrames;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Frames files holding frames as tiles (as the ingest writes a frame larger than a Kafka record)
 * read back whole, for replay and score alike; tiles that do not make a frame are named.
 */
class FrameFilesTest {
  @TempDir Path tmp;

  static Path write(Path file, List<TemperatureFrame> records) throws Exception {
    try (DataFileWriter<TemperatureFrame> w = new DataFileWriter<>(new SpecificDatumWriter<>(TemperatureFrame.class))) {
      w.create(TemperatureFrame.getClassSchema(), file.toFile());
      for (TemperatureFrame r : records) {
        w.append(r);
      }
    }
    return file;
  }

  @Test
  void framesStoredAsTilesReadBackWhole() throws Exception {
    List<TemperatureFrame> frames = RealFrames.uk(5);
    List<TemperatureFrame> records = new ArrayList<>();
    for (TemperatureFrame f : frames) {
      records.addAll(FrameTiles.INSTANCE.split(f, 12, 2048));
    }
    assertThat(records).hasSizeGreaterThan(3 * frames.size());
    Path file = write(tmp.resolve("tiled.avro"), records);
    assertThat(FrameFiles.readAll(file)).isEqualTo(frames);
    assertThat(FrameFiles.count(file)).as("frames, not records").isEqualTo(5);
    List<TemperatureFrame> selected = new ArrayList<>();
    FrameFiles.frames(List.of(file), frames.get(1).getValidTime(), frames.get(2).getValidTime()).forEach(selected::add);
    assertThat(selected).containsExactly(frames.get(1), frames.get(2));
  }

  @Test
  void tilesThatDoNotMakeAFrameAreNamed() throws Exception {
    List<TemperatureFrame> frames = RealFrames.uk(2);
    List<TemperatureFrame> first = FrameTiles.INSTANCE.split(frames.get(0), 12, 2048);
    List<TemperatureFrame> records = new ArrayList<>(first.subList(0, first.size() - 1));
    records.add(frames.get(1));
    Path file = write(tmp.resolve("broken.avro"), records);
    assertThatThrownBy(() -> FrameFiles.readAll(file)).isInstanceOf(ToolException.class)
        .hasMessageContaining("is stored as " + first.size() + " tiles, but only " + (first.size() - 1)
            + " follow one another before record " + (first.size() - 1) + " is a whole frame");
    Path cut = write(tmp.resolve("cut.avro"), first.subList(0, 2));
    assertThatThrownBy(() -> FrameFiles.readAll(cut)).hasMessageContaining("before the file ends");
  }
}
