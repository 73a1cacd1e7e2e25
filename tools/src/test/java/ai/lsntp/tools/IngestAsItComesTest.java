package ai.lsntp.tools;

import ai.lsntp.testing.KafkaBroker;
import org.junit.jupiter.api.extension.RegisterExtension;
import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.avro.Forecast;
import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.config.Topic;
import ai.lsntp.job.ForecastJob;
import ai.lsntp.testing.Cli;
import ai.lsntp.testing.KafkaIO;
import ai.lsntp.testing.TestJobConfig;
import ai.lsntp.testing.TestPaths;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real-world NetCDF file as it comes (what an NCL sample looks like): time on an integer
 * `timestep` axis without CF units, fill values in some cells, a dropped step and a step with every
 * cell missing, built from the first 60 shipped ERA5 frames on the full grid. Replay ingests it
 * (with --time-var / --time-units), warning once about the gap and once about the skipped step;
 * the job forecasts every window of alpha consecutive frames, the frames with missing cells
 * included (per-frame masks).
 */
class IngestAsItComesTest {
  @RegisterExtension static final KafkaBroker kafka = new KafkaBroker();

  @TempDir Path tmp;

  /** The NCL-like file (model-export's fixture writer) over the full ERA5 UK grid. */
  Path nclLikeFile() throws Exception {
    Path src = tmp.resolve("era5-60h.nc");
    Path out = tmp.resolve("ncl-like.nc");
    String script = String.join("\n",
        "import sys, numpy as np, xarray as xr",
        "sys.path.insert(0, sys.argv[1])",
        "from lsntp import fixtures, ingest",
        "recs = ingest.read(sys.argv[2])[:60]",
        "r0 = recs[0]",
        "vals = np.stack([np.frombuffer(r['values'], '<f4').reshape(r0['height'], r0['width']) for r in recs])",
        "lats = r0['lat0'] + r0['dlat'] * np.arange(r0['height'])",
        "lons = r0['lon0'] + r0['dlon'] * np.arange(r0['width'])",
        "times = np.array([np.datetime64(r['valid_time'].replace(tzinfo=None), 'ns') for r in recs])",
        "xr.Dataset({'t2m': (('time', 'latitude', 'longitude'), vals, {'units': 'K'})},",
        "           coords={'time': times, 'latitude': lats, 'longitude': lons}).to_netcdf(sys.argv[3])",
        "fixtures.write_ncl_like(sys.argv[3], sys.argv[4])");
    Process p = new ProcessBuilder("/usr/bin/python3", "-c", script, TestPaths.root().resolve("model-export").toString(),
        TestPaths.ukFrames().toString(), src.toString(), out.toString()).inheritIO().start();
    assertThat(p.waitFor(180, TimeUnit.SECONDS) && p.exitValue() == 0).as("the fixture was written").isTrue();
    return out;
  }

  @Test
  void aFileWithANonCfTimeAxisFillValuesAGapAndAnAllMissingStepIsIngestedReplayedAndForecast() throws Exception {
    Path file = nclLikeFile();
    String prefix = "ncl";
    kafka.createTopics(1, Topic.namesUnder(prefix));
    Cli missingUnits = Cli.run(new ReplayCommand(), file.toString(), "-b", kafka.bootstrapServers(), "--frames-topic",
        Topic.FRAMES.under(prefix), "--grid-id", "era5-uk-0p25");
    assertThat(missingUnits.exit).isEqualTo(2);
    assertThat(missingUnits.err).contains("has no time axis with CF units").contains("--time-var timestep");

    Cli replay = Cli.run(new ReplayCommand(), file.toString(), "-b", kafka.bootstrapServers(), "--frames-topic",
        Topic.FRAMES.under(prefix), "--grid-id", "era5-uk-0p25", "--time-var", "timestep", "--time-units",
        "hours since 1900-01-01 00:00", "--progress", "none");
    assertThat(replay.exit).as(replay.toString()).isZero();
    assertThat(replay.out).contains("58 frames sent to " + prefix + ".frames, 58 acknowledged, 0 failed");
    assertThat(replay.err.lines().filter(l -> l.contains("warning:") && l.contains("gap"))).as("the gap, once").hasSize(1);
    assertThat(replay.err.lines().filter(l -> l.contains("warning:") && l.contains("every cell missing")))
        .as("the all-missing step, once").hasSize(1);

    LsntpConfig cfg = TestJobConfig.onTopics(kafka.bootstrapServers(), prefix)
        .set("delivery.guarantee", "at-least-once")
        .set("stream.future-tolerance", "3650d")
        .set("alerts", "[]")
        .load();
    ForecastJob.fromKafka(cfg, true).execute(ForecastJob.localEnvironment(cfg));
    // frames 0..59 without 20 (dropped) and 33 (all missing): runs of 20, 12 and 26 consecutive frames
    int alpha = 6;
    int expected = (20 - alpha + 1) + (12 - alpha + 1) + (26 - alpha + 1);
    RecordCodec<Forecast> fa = RecordCodec.of(Forecast.class);
    List<Forecast> forecasts = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : KafkaIO.readCommitted(kafka.bootstrapServers(), cfg.topics.forecasts,
        expected, Duration.ofSeconds(30))) {
      forecasts.add(fa.decode(r.value()));
    }
    assertThat(forecasts).hasSize(expected);
    assertThat(KafkaIO.readCommitted(kafka.bootstrapServers(), cfg.topics.rejects, 0, Duration.ofSeconds(2)))
        .as("no frame of the file is rejected: masked cells are judged per frame").isEmpty();
  }
}
