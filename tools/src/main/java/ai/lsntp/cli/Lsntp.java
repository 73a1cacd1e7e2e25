package ai.lsntp.cli;

import ai.lsntp.config.ConfigException;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The Java side of ./lsntp: demo, replay, watch, serve, score, schemas, job, java-bench, big-grid-bench, promote. */
@Command(name = "lsntp", mixinStandardHelpOptions = true,
    // replay and watch: the operator tools of ai.lsntp.tools (acknowledged sends, GRIB/NetCDF input, NetCDF/PNG output)
    subcommands = {DemoCommand.class, ai.lsntp.tools.ReplayCommand.class, ai.lsntp.tools.WatchCommand.class,
        ai.lsntp.serve.ServeCommand.class, ai.lsntp.tools.ScoreCommand.class, ai.lsntp.tools.SchemasCommand.class,
        JobCommand.class, BenchCommand.class, BigGridBenchCommand.class, ai.lsntp.tools.PromoteCommand.class},
    description = "LS-NTP streaming temperature forecaster (Flink + Kafka + ONNX Runtime).")
public final class Lsntp implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /**
   * The command line with the launcher's error handling: a problem the user can fix (a wrong
   * setting, Kafka refusing the login) ends as one line on stderr and an exit status, not a stack
   * trace (that goes to the log).
   */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Lsntp());
    cl.setExecutionExceptionHandler((ex, line, parsed) -> {
      for (Throwable t = ex; t != null; t = t.getCause()) {
        if (t instanceof ConfigException) {
          line.getErr().println("lsntp: configuration error: " + t.getMessage());
          return 2;
        }
        if (t instanceof ai.lsntp.job.KafkaAccessException) {
          LoggerFactory.getLogger(Lsntp.class).error("Kafka cannot be used", t); // the details go to the log
          line.getErr().println("lsntp " + parsed.subcommand().commandSpec().name() + ": error: " + t.getMessage());
          return 1;
        }
      }
      throw ex;
    });
    return cl;
  }
}
