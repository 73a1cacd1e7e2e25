package ai.lsntp.cli;

import ai.lsntp.config.LsntpConfig;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Prints forecasts, alerts (and rejects) from a Kafka cluster as they are committed. */
@Command(name = "watch", mixinStandardHelpOptions = true,
    description = "Print forecasts and alerts (read_committed) from the output topics.")
public class WatchCommand implements Callable<Integer> {
  @Mixin JobOptions options;

  @Option(names = "--from-beginning") boolean fromBeginning;
  @Option(names = "--show-rejects") boolean showRejects;
  @Option(names = "--limit", paramLabel = "N", description = "Stop after N forecasts.") int limit;

  @Override
  public Integer call() throws Exception {
    LsntpConfig cfg = options.toConfig(Map.of());
    AtomicInteger n = new AtomicInteger();
    try (Watcher w = new Watcher(cfg.kafkaProperties(), cfg.topics.forecasts, cfg.topics.alerts,
        showRejects ? cfg.topics.rejects : null, fromBeginning)) {
      while (limit <= 0 || n.get() < limit) {
        w.poll(Duration.ofMillis(500), f -> {
          n.incrementAndGet();
          System.out.println(Printer.forecast(f, null));
        }, a -> System.out.println(Printer.alert(a)), r -> System.out.println(Printer.reject(r)));
      }
    }
    return 0;
  }
}
