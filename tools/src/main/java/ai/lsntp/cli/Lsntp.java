package ai.lsntp.cli;

import ai.lsntp.config.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The Java side of ./lsntp: demo, replay, watch, job, java-bench. */
@Command(name = "lsntp", mixinStandardHelpOptions = true,
    // replay and watch: the operator tools of ai.lsntp.tools (acknowledged sends, GRIB/NetCDF input, NetCDF/PNG output)
    subcommands = {DemoCommand.class, ai.lsntp.tools.ReplayCommand.class, ai.lsntp.tools.WatchCommand.class,
        JobCommand.class, BenchCommand.class},
    description = "LS-NTP streaming temperature forecaster (Flink + Kafka + ONNX Runtime).")
public final class Lsntp implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    CommandLine cl = new CommandLine(new Lsntp());
    cl.setExecutionExceptionHandler((ex, line, parsed) -> {
      Throwable t = ex;
      while (t != null && !(t instanceof ConfigException)) {
        t = t.getCause();
      }
      if (t != null) {
        line.getErr().println("lsntp: configuration error: " + t.getMessage());
        return 2;
      }
      throw ex;
    });
    System.exit(cl.execute(args));
  }
}
