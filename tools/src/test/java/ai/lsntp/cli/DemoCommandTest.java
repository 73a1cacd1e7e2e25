package ai.lsntp.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.codec.PackedFloats;
import ai.lsntp.testing.Cli;
import ai.lsntp.testing.TestPaths;
import ai.lsntp.tools.FrameFiles;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;

/**
 * ./lsntp demo as a user runs it (its own broker, MiniCluster and live page): the lines people and
 * scripts read, each forecast with its intervals.
 */
class DemoCommandTest {

  @Test
  void aFrostProbabilityRuleFiresOnTheShippedFramesWhenTheNightTurnsCold(@org.junit.jupiter.api.io.TempDir Path tmp)
      throws Exception {
    // the shipped frames of the evening of 3 March 2019, the first night with air frost in them
    // (22Z-01Z: a few cells at or below 273.15 K)
    Instant from = Instant.parse("2019-03-03T16:00:00Z");
    Instant to = Instant.parse("2019-03-04T03:00:00Z");
    Map<Instant, Float> coldest = new HashMap<>();
    Path frames = tmp.resolve("frost-night.avro");
    try (DataFileWriter<TemperatureFrame> out = new DataFileWriter<>(new SpecificDatumWriter<>(TemperatureFrame.class))) {
      out.create(TemperatureFrame.getClassSchema(), frames.toFile());
      for (TemperatureFrame f : FrameFiles.readAll(TestPaths.ukFrames())) {
        if (!f.getValidTime().isBefore(from) && !f.getValidTime().isAfter(to)) {
          out.append(f);
          float min = Float.MAX_VALUE;
          for (float v : PackedFloats.decode(f.getValues())) {
            min = Math.min(min, v);
          }
          coldest.put(f.getValidTime(), min);
        }
      }
    }
    Cli demo = Cli.run(new DemoCommand(), "--pace", "50ms", "--frames", frames.toString(), "--models",
        TestPaths.models().toString(), "--no-serve", "--no-challenger");
    assertThat(demo.exit).as(demo.toString()).isZero();
    List<String> likely = Arrays.stream(demo.out.split("\n"))
        .filter(l -> l.startsWith("ALERT ") && l.contains("(frost-likely)")).toList();
    assertThat(likely).as(demo.out).isNotEmpty();
    java.util.regex.Pattern p = java.util.regex.Pattern.compile(
        ".* valid (\\S+ \\S+) \\(lead \\d\\).*value (\\d+\\.\\d+) K  threshold 273\\.15 K  probability (\\d\\.\\d\\d)$");
    for (String l : likely) {
      java.util.regex.Matcher m = p.matcher(l);
      assertThat(m.matches()).as(l).isTrue();
      assertThat(Double.parseDouble(m.group(3))).as("the rule's probability: %s", l).isGreaterThanOrEqualTo(0.8);
      Instant valid = Instant.parse(m.group(1).replace(' ', 'T').replace("Z", ":00Z"));
      // warranted: the frame observed at that valid time had air frost somewhere on the grid
      assertThat(coldest.get(valid)).as("the coldest cell observed at %s", valid).isLessThanOrEqualTo(273.15f);
    }
  }

  @Test
  void theDemoPrintsItsForecastsAndLeagueTableAndEndsWithItsSummaryLine() {
    Cli demo = Cli.run(new DemoCommand(), "--limit", "4", "--pace", "50ms", "--frames", TestPaths.ukFrames().toString(),
        "--models", TestPaths.models().toString(), "--serve-port", "0", "--challenger",
        TestPaths.models().resolve("zoo/era5-uk-0p25/convlstm").toString());
    assertThat(demo.exit).as(demo.toString()).isZero();
    List<String> lines = Arrays.asList(demo.out.split("\n"));
    assertThat(lines).filteredOn(l -> l.startsWith("FORECAST ")).hasSize(4)
        .allMatch(l -> l.matches(".* model LS-NTP \\S+  95% \\+-\\d+\\.\\d\\.\\.\\d+\\.\\d K  \\(\\d+ ms after its last frame was sent\\)"),
            "the 95% interval's half-width and the latency noted");
    assertThat(lines).contains("lsntp demo: replaying 9 frames from " + TestPaths.ukFrames()
        + " every 50 ms; expecting 4 forecasts (at-least-once). Ctrl-C stops.");
    assertThat(lines).anyMatch(l -> l.matches("lsntp demo: live page at http://127\\.0\\.0\\.1:\\d+/ \\(point forecasts: "
        + "http://127\\.0\\.0\\.1:\\d+/v1/forecast\\?latitude=51\\.5&longitude=-0\\.12\\)"));
    // the zoo's ConvLSTM beside the shipped LS-NTP, both in the league table at the end
    assertThat(lines).anyMatch(l -> l.startsWith("lsntp demo: challenger ConvLSTM 1.0.0 ('convlstm') beside LS-NTP")
        && l.contains("on grid era5-uk-0p25 (same grid id and geometry)"));
    int league = lines.indexOf("lsntp demo: league table (every model of each grid, scored on the same observed frames; "
        + "* published):");
    assertThat(league).isPositive();
    List<String> table = lines.subList(league, lines.size());
    assertThat(table).anyMatch(l -> l.startsWith("VERIFY   era5-uk-0p25") && l.contains("   ConvLSTM 1.0.0 [convlstm]"))
        .anyMatch(l -> l.startsWith("VERIFY   era5-uk-0p25") && l.contains(" * LS-NTP "));
    assertThat(lines.get(lines.size() - 2))
        .matches("lsntp demo: 4 forecasts, \\d+ alerts; latency frame sent -> forecast read: p50 \\d+ ms, p99 \\d+ ms");
    assertThat(lines.get(lines.size() - 1)).isEqualTo("lsntp demo: stopped.");
  }
}
