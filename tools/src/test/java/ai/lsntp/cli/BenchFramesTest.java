package ai.lsntp.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.tools.FrameFiles;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The benchmark's backlog longer than its frames file keeps an unbroken hourly valid-time sequence. */
class BenchFramesTest {
  @Test
  void framesBeyondTheFileContinueHourWithoutGapsOrRepeats() throws Exception {
    List<TemperatureFrame> all = FrameFiles.readAll(TestPaths.root().resolve("data/frames/era5-uk-2019-03.avro"));
    long hour = 3_600_000L;
    int n = 2 * all.size() + 7;
    long previous = BenchCommand.frameAt(all, 0, hour).getValidTime().toEpochMilli();
    for (int i = 1; i < n; i++) {
      TemperatureFrame f = BenchCommand.frameAt(all, i, hour);
      long t = f.getValidTime().toEpochMilli();
      assertThat(t - previous).as("step before frame %d", i).isEqualTo(hour);
      assertThat(f.getValues()).isEqualTo(all.get(i % all.size()).getValues());
      previous = t;
    }
    assertThat(BenchCommand.frameAt(all, 3, hour)).isSameAs(all.get(3));
  }
}
