package ai.lsntp.system;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.Uuid;

/**
 * A Kafka broker process (KRaft, combined broker and controller, Kafka's own kafka.Kafka entry
 * point) that admits only SCRAM-SHA-512 logins on its client listener (SASL_PLAINTEXT) and
 * authorizes with ACLs (StandardAuthorizer, nothing allowed without one). Users are created when
 * its storage is formatted, as an operator would with kafka-storage.sh --add-scram.
 */
final class ScramKafkaBroker implements AutoCloseable {
  static final String ADMIN = "admin";
  static final String ADMIN_PASSWORD = "admin-secret-1";

  final int port;
  final ChildJvm process;

  private ScramKafkaBroker(int port, ChildJvm process) {
    this.port = port;
    this.process = process;
  }

  /** Starts a broker in {@code dir} with these users (name -> password) besides the admin. */
  static ScramKafkaBroker start(Path dir, Map<String, String> users) throws Exception {
    int port = freePort();
    int controller = freePort();
    Files.createDirectories(dir);
    Path config = dir.resolve("server.properties");
    Map<String, String> c = new LinkedHashMap<>();
    c.put("process.roles", "broker,controller");
    c.put("node.id", "1");
    c.put("controller.quorum.bootstrap.servers", "127.0.0.1:" + controller);
    c.put("listeners", "SASL_PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controller);
    c.put("advertised.listeners", "SASL_PLAINTEXT://127.0.0.1:" + port);
    c.put("controller.listener.names", "CONTROLLER");
    c.put("inter.broker.listener.name", "SASL_PLAINTEXT");
    c.put("listener.security.protocol.map", "CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT");
    c.put("sasl.enabled.mechanisms", "SCRAM-SHA-512");
    c.put("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512");
    c.put("listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config", jaas(ADMIN, ADMIN_PASSWORD));
    c.put("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
    c.put("super.users", "User:" + ADMIN + ";User:ANONYMOUS"); // ANONYMOUS: the controller listener
    c.put("allow.everyone.if.no.acl.found", "false");
    c.put("log.dirs", dir.resolve("data").toString());
    c.put("offsets.topic.replication.factor", "1");
    c.put("offsets.topic.num.partitions", "1");
    c.put("transaction.state.log.replication.factor", "1");
    c.put("transaction.state.log.min.isr", "1");
    c.put("transaction.state.log.num.partitions", "1");
    c.put("transaction.max.timeout.ms", "3600000");
    c.put("group.initial.rebalance.delay.ms", "0");
    c.put("auto.create.topics.enable", "false");
    Properties p = new Properties();
    p.putAll(c);
    try (var out = Files.newBufferedWriter(config)) {
      p.store(out, "SCRAM-SHA-512 broker for SecuredKafkaTest");
    }
    Path log4j = dir.resolve("log4j2.properties");
    Files.writeString(log4j, String.join("\n", "rootLogger.level = WARN", "rootLogger.appenderRef.out.ref = out",
        "appender.out.type = Console", "appender.out.name = out", "appender.out.layout.type = PatternLayout",
        "appender.out.layout.pattern = %d{HH:mm:ss} %-5p %c{1} - %m%n", ""));
    List<String> jvm = List.of("-Dlog4j2.configurationFile=" + log4j);

    List<String> format = new ArrayList<>(List.of("format", "-t", Uuid.randomUuid().toString(), "-c", config.toString(),
        "--standalone", "--add-scram", "SCRAM-SHA-512=[name=" + ADMIN + ",password=" + ADMIN_PASSWORD + "]"));
    users.forEach((u, pw) -> format.addAll(List.of("--add-scram", "SCRAM-SHA-512=[name=" + u + ",password=" + pw + "]")));
    ChildJvm storage = ChildJvm.start("kafka-storage", dir, ChildJvm.testClasspath(), "256m", Map.of(), jvm,
        "kafka.tools.StorageTool", format);
    if (!storage.process.waitFor(120, TimeUnit.SECONDS) || storage.process.exitValue() != 0) {
      throw new AssertionError("formatting the broker's storage failed:\n" + storage.tail(40));
    }
    ChildJvm broker = ChildJvm.start("kafka", dir, ChildJvm.testClasspath(), "512m", Map.of(), jvm, "kafka.Kafka",
        List.of(config.toString()));
    long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (System.nanoTime() < end && !listens(port)) {
      if (!broker.process.isAlive()) {
        throw new AssertionError("the broker died:\n" + broker.tail(40));
      }
      Thread.sleep(200);
    }
    return new ScramKafkaBroker(port, broker);
  }

  String bootstrap() {
    return "127.0.0.1:" + port;
  }

  /** Client properties that log in as {@code user}. */
  Properties login(String user, String password) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap());
    p.put("security.protocol", "SASL_PLAINTEXT");
    p.put("sasl.mechanism", "SCRAM-SHA-512");
    p.put("sasl.jaas.config", jaas(user, password));
    return p;
  }

  static String jaas(String user, String password) {
    return "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + user + "\" password=\""
        + password + "\";";
  }

  private static boolean listens(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.close();
  }
}
