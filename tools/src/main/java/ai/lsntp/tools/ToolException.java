package ai.lsntp.tools;

/** A problem the user can fix (bad input, unreachable broker, missing topic): printed as one line, no stack trace. */
public class ToolException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  /** Exit status: 2 for bad input or usage, 1 for a failure at run time. */
  public final int exitCode;

  public ToolException(int exitCode, String message) {
    super(message);
    this.exitCode = exitCode;
  }

  public ToolException(int exitCode, String message, Throwable cause) {
    super(message, cause);
    this.exitCode = exitCode;
  }

  public static ToolException input(String message) {
    return new ToolException(2, message);
  }

  public static ToolException failure(String message) {
    return new ToolException(1, message);
  }
}
