package ai.lsntp.config;

/** A configuration setting that cannot be used; the message names the setting. */
public class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
