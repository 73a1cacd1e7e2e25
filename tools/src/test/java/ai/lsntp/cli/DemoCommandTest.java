package ai.lsntp.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.testing.Cli;
import ai.lsntp.testing.TestPaths;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * ./lsntp demo as a user runs it (its own broker, MiniCluster and live page): the lines people and
 * scripts read, each forecast with its intervals.
 */
class DemoCommandTest {

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
