package ai.lsntp.testing;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** Runs a command in-process exactly as the launcher would, capturing what it prints. */
public final class Cli {
  public final int exit;
  public final String out;
  public final String err;

  private Cli(int exit, String out, String err) {
    this.exit = exit;
    this.out = out;
    this.err = err;
  }

  public static Cli run(Object command, String... args) {
    return run(new CommandLine(command), args);
  }

  /** Runs a prepared command line (with its own error handling), capturing what it prints. */
  public static Cli run(CommandLine cl, String... args) {
    Object command = cl.getCommand();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int exit = cl.execute(args);
    Cli c = new Cli(exit, out.toString(), err.toString());
    System.out.println("$ " + command.getClass().getSimpleName() + " " + String.join(" ", args) + "\n-> exit " + exit
        + "\n" + c.out + c.err);
    return c;
  }

  @Override
  public String toString() {
    return "exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err;
  }
}
