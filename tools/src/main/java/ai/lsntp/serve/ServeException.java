package ai.lsntp.serve;

/** The server cannot start as asked (the port is taken, the address is not this machine's): one line for the user. */
public final class ServeException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  ServeException(String message, Throwable cause) {
    super(message, cause);
  }
}
