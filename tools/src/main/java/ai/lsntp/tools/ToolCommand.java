package ai.lsntp.tools;

import ai.lsntp.config.ConfigException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What the operator tools (replay, watch, serve) share: problems the user can fix end as one line
 * on stderr with an exit status (2 bad input, 1 run-time failure), never as a stack trace; and a
 * stand-alone entry point for docker-compose and Kubernetes ({@code java -cp <flink-app jar>:<flink lib>/* ai.lsntp.tools.X ...}).
 */
public abstract class ToolCommand implements Callable<Integer> {
  @Spec protected CommandSpec spec;

  /** The command's work; throws {@link ToolException} or {@link ConfigException} for the user's problems. */
  protected abstract int run() throws Exception;

  @Override
  public final Integer call() throws Exception {
    String name = "lsntp " + spec.name();
    try {
      return run();
    } catch (ToolException e) {
      return fail(name + ": error: " + e.getMessage(), e.exitCode);
    } catch (ConfigException e) {
      return fail(name + ": configuration error: " + e.getMessage(), 2);
    }
  }

  private int fail(String line, int exitCode) {
    spec.commandLine().getErr().println(line);
    spec.commandLine().getErr().flush();
    return exitCode;
  }

  /** Runs a command outside ./lsntp, where nobody has set Avro's trusted packages yet. */
  protected static void launch(ToolCommand command, String[] args) {
    if (System.getProperty("org.apache.avro.SERIALIZABLE_PACKAGES") == null) {
      System.setProperty("org.apache.avro.SERIALIZABLE_PACKAGES", "ai.lsntp.avro");
    }
    System.exit(new CommandLine(command).execute(args));
  }
}
