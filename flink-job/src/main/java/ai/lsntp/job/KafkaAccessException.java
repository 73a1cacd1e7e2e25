package ai.lsntp.job;

/**
 * Kafka cannot be used as configured (unreachable, refuses the login, not authorized, a topic is
 * missing). The message is one line an operator can act on; it never contains credentials.
 */
public class KafkaAccessException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public KafkaAccessException(String message, Throwable cause) {
    super(message, cause);
  }
}
