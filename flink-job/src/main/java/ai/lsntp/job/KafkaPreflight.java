package ai.lsntp.job;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * Asks Kafka, before anything starts, whether it can be used as configured, and says in one line
 * what is wrong when it cannot: nothing listens at the address; the listener wants a login or TLS
 * this client does not offer (the broker then closes the connection without a word, and a Kafka
 * client only retries until it times out); the login was refused; the principal may not describe
 * a topic; a topic is missing. The job's entry points, replay and watch all ask it, so the same
 * mistake reads the same everywhere, within seconds instead of after minutes of retries.
 */
public final class KafkaPreflight {
  private KafkaPreflight() {}

  /** Checks the cluster and every topic the job of {@code cfg} reads or writes. */
  public static void checkJob(ai.lsntp.config.LsntpConfig cfg) {
    check(cfg.kafkaProperties(), cfg.topicNames(), cfg.connectTimeout());
  }

  /**
   * Checks the cluster and describes {@code topics}; returns each topic's partition count, or
   * throws {@link KafkaAccessException} when Kafka cannot be used.
   */
  public static java.util.Map<String, Integer> check(Properties client, List<String> topics, Duration timeout) {
    Properties p = new Properties();
    p.putAll(client);
    int ms = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
    p.put("default.api.timeout.ms", ms);
    p.put("request.timeout.ms", Math.min(ms, 15_000));
    p.putIfAbsent("client.id", "lsntp-preflight");
    String bootstrap = p.getProperty("bootstrap.servers");
    try (Admin admin = Admin.create(p)) {
      try {
        admin.describeCluster().nodes().get(ms, TimeUnit.MILLISECONDS);
      } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
        throw new KafkaAccessException(orElse(explain(e, p, timeout), "Kafka at " + bootstrap + " failed: " + e), e);
      }
      java.util.Map<String, Integer> partitions = new java.util.LinkedHashMap<>();
      for (String t : topics) {
        try {
          partitions.put(t, admin.describeTopics(List.of(t)).allTopicNames().get(ms, TimeUnit.MILLISECONDS).get(t)
              .partitions().size());
        } catch (ExecutionException e) {
          if (e.getCause() instanceof UnknownTopicOrPartitionException) {
            throw new KafkaAccessException("topic '" + t + "' does not exist on " + bootstrap
                + " (create it, or name another in the configuration's topics.* / the --*-topic options)", e);
          }
          throw new KafkaAccessException(orElse(explain(e, p, timeout), "cannot describe topic '" + t + "' on "
              + bootstrap + ": " + e.getCause()), e);
        } catch (java.util.concurrent.TimeoutException e) {
          throw new KafkaAccessException("Kafka at " + bootstrap + " did not describe topic '" + t + "' within "
              + timeout.toSeconds() + " s", e);
        }
      }
      return partitions;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new KafkaAccessException("interrupted while asking Kafka at " + bootstrap, e);
    }
  }

  /**
   * One line naming why a Kafka client failed, from the exception and, where the client only timed
   * out, from whether anything listens at the bootstrap address; null when {@code failure} holds
   * no Kafka access problem. Never names a credential.
   */
  public static String explain(Throwable failure, Properties client, Duration waited) {
    String bootstrap = client.getProperty("bootstrap.servers");
    String protocol = client.getProperty("security.protocol", "PLAINTEXT");
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof SaslAuthenticationException) {
        return "Kafka at " + bootstrap + " refused the login (authentication failed, SASL "
            + client.getProperty("sasl.mechanism", "GSSAPI") + "): " + t.getMessage()
            + " (check the user and password in sasl.jaas.config)";
      }
      if (t instanceof SslAuthenticationException) {
        return "the TLS handshake with Kafka at " + bootstrap + " failed (authentication): " + t.getMessage()
            + " (check ssl.truststore.* and the broker's certificate)";
      }
      if (t instanceof AuthenticationException) {
        return "Kafka at " + bootstrap + " refused this client (authentication failed): " + t.getMessage();
      }
      if (t instanceof AuthorizationException) {
        return "Kafka at " + bootstrap + " says this principal is not authorized (" + t.getClass().getSimpleName()
            + "): " + t.getMessage() + " (grant the ACLs listed in deploy/OPERATIONS.md, Secured Kafka)";
      }
    }
    if (!rootIsTimeout(failure)) {
      return null;
    }
    List<String> listening = new ArrayList<>();
    for (String hostPort : bootstrap.split(",")) {
      if (listens(hostPort.trim())) {
        listening.add(hostPort.trim());
      }
    }
    if (listening.isEmpty()) {
      return "cannot reach Kafka at " + bootstrap + " within " + waited.toSeconds()
          + " s: nothing accepts connections there (is the broker running? --bootstrap-servers)";
    }
    return "Kafka at " + bootstrap + " accepts connections but did not answer this client (security.protocol="
        + protocol + ") within " + waited.toSeconds() + " s: the listener probably requires "
        + (protocol.startsWith("SASL") ? "TLS (SASL_SSL) or another security protocol" : "authentication (SASL) or TLS")
        + "; set security.protocol, sasl.mechanism and sasl.jaas.config (deploy/OPERATIONS.md, Secured Kafka)";
  }

  private static String orElse(String s, String otherwise) {
    return s != null ? s : otherwise;
  }

  private static boolean rootIsTimeout(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof org.apache.kafka.common.errors.TimeoutException || t instanceof java.util.concurrent.TimeoutException) {
        return true;
      }
    }
    return false;
  }

  /** Whether a TCP connection to host:port opens within 3 s. */
  private static boolean listens(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon < 0) {
      return false;
    }
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1))), 3000);
      return true;
    } catch (IOException | NumberFormatException e) {
      return false;
    }
  }
}
