package ai.lsntp.serve;

import ai.lsntp.config.ConfigOptions;
import ai.lsntp.config.LsntpConfig;
import ai.lsntp.job.KafkaAccessException;
import ai.lsntp.job.KafkaPreflight;
import ai.lsntp.tools.Times;
import ai.lsntp.tools.ToolCommand;
import ai.lsntp.tools.ToolException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * ./lsntp serve: the live page and the point-forecast API on the job's topics, until Ctrl-C.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Serve a live page of the job's output (each grid's newest forecast per lead as a map beside the newest "
        + "observed frame, open alerts, rolling verification, model events; it updates itself) and a point-forecast API "
        + "in Open-Meteo's shape: GET /v1/forecast?latitude=..&longitude=.., GET /v1/grids.",
        "Reads frames, forecasts, alerts, model events and verification (read_committed) from the topics the "
        + "configuration names; needs no internet (every script, style and coastline is served from the jar)."},
    footer = {"", "Examples:",
        "  ./lsntp serve                                    (http://127.0.0.1:8765/, Kafka at kafka.bootstrap-servers)",
        "  ./lsntp serve -b broker:9092 --port 9000",
        "  curl 'http://127.0.0.1:8765/v1/forecast?latitude=51.5&longitude=-0.12'",
        "", "Exit status: 0 stopped by Ctrl-C; 1 broker unreachable, topic missing or the port taken; 2 bad input."})
public class ServeCommand extends ToolCommand {
  @Mixin ConfigOptions connection = new ConfigOptions();

  @Option(names = "--port", paramLabel = "PORT", defaultValue = "" + Live.DEFAULT_PORT,
      description = "HTTP port (default ${DEFAULT-VALUE}; 0 picks a free one).")
  int port;

  @Option(names = "--host", paramLabel = "ADDRESS", defaultValue = Live.DEFAULT_HOST,
      description = "Address to listen on (default ${DEFAULT-VALUE}: this machine only; the server has no login, "
          + "so think before opening it wider).")
  String host;

  @Option(names = "--connect-timeout", paramLabel = "DURATION",
      description = "How long to wait for the broker at start (default: kafka.connect-timeout, 15s).")
  String connectTimeout;

  /** Stand-alone entry point; on a workstation use ./lsntp serve. */
  public static void main(String[] args) {
    launch(new ServeCommand(), args);
  }

  @Override
  protected int run() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (port < 0 || port > 65535) {
      throw ToolException.input("--port: must be 0..65535, got " + port);
    }
    LsntpConfig cfg = connection.config();
    Duration connect = connectTimeout == null ? cfg.connectTimeout() : Times.duration("--connect-timeout", connectTimeout);
    try {
      KafkaPreflight.check(cfg.kafkaProperties(), Arrays.stream(LiveFeed.TOPICS).map(t -> t.in(cfg)).toList(), connect);
    } catch (KafkaAccessException e) {
      throw ToolException.failure(e.getMessage());
    }
    CountDownLatch stopped = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      stopped.countDown();
      try {
        closed.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "lsntp-serve-stop");
    Live live;
    try {
      live = Live.start(cfg, host, port);
    } catch (ServeException e) {
      throw ToolException.failure(e.getMessage());
    }
    try {
      Runtime.getRuntime().addShutdownHook(hook);
      out.println("lsntp serve: live page at " + live.url() + ", point forecasts at " + live.url()
          + "v1/forecast?latitude=..&longitude=.. (reading " + String.join(", ", live.topics()) + " on "
          + connection.bootstrap() + "). Ctrl-C stops.");
      out.flush();
      stopped.await();
    } finally {
      live.close();
      out.println("lsntp serve: stopped.");
      out.flush();
      closed.countDown();
    }
    return 0;
  }
}
