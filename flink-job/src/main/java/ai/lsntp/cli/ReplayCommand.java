package ai.lsntp.cli;

import ai.lsntp.config.Durations;
import ai.lsntp.config.LsntpConfig;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Replays an Avro file of frames to the frames topic of a Kafka cluster. */
@Command(name = "replay", mixinStandardHelpOptions = true,
    description = "Produce the frames of an Avro file to the frames topic, at a pace.")
public class ReplayCommand implements Callable<Integer> {
  @Mixin JobOptions options;

  @Option(names = "--frames", paramLabel = "FILE") Path framesFile = Path.of("data/frames/era5-uk-2019-03.avro");
  @Option(names = "--pace", paramLabel = "DURATION") String pace = "1s";
  @Option(names = "--limit", paramLabel = "N", description = "At most N frames.") int limit;

  @Override
  public Integer call() throws Exception {
    LsntpConfig cfg = options.toConfig(Map.of());
    Replayer r = new Replayer(cfg.kafkaProperties(), cfg.topics.frames, FrameFile.read(framesFile, limit),
        Durations.parse("--pace", pace).toMillis());
    r.run();
    System.out.println("lsntp replay: " + r.sent() + " frames to " + cfg.topics.frames);
    return 0;
  }
}
