package ai.lsntp.system;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.Uuid;

/**
 * A plain Kafka broker process (KRaft, combined broker and controller, Kafka's own kafka.Kafka
 * entry point, PLAINTEXT), its storage formatted as kafka-storage.sh format --standalone does, so
 * it runs the features the release finalizes by default (transaction.version 2 in Kafka 4).
 * Unlike the in-process test kit it is a process of its own: what it does to transactions is the
 * broker's, not a test harness's.
 */
final class KafkaBrokerProcess implements AutoCloseable {
  final int port;
  final ChildJvm process;

  private KafkaBrokerProcess(int port, ChildJvm process) {
    this.port = port;
    this.process = process;
  }

  static KafkaBrokerProcess start(Path dir) throws Exception {
    int port = freePort();
    int controller = freePort();
    Files.createDirectories(dir);
    Path config = dir.resolve("server.properties");
    Map<String, String> c = new LinkedHashMap<>();
    c.put("process.roles", "broker,controller");
    c.put("node.id", "1");
    c.put("controller.quorum.bootstrap.servers", "127.0.0.1:" + controller);
    c.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controller);
    c.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
    c.put("controller.listener.names", "CONTROLLER");
    c.put("listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT");
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
      p.store(out, "plain KRaft broker for system tests");
    }
    Path log4j = dir.resolve("log4j2.properties");
    Files.writeString(log4j, String.join("\n", "rootLogger.level = WARN", "rootLogger.appenderRef.out.ref = out",
        "appender.out.type = Console", "appender.out.name = out", "appender.out.layout.type = PatternLayout",
        "appender.out.layout.pattern = %d{HH:mm:ss.SSS} %-5p %c{1} - %m%n", ""));
    List<String> jvm = List.of("-Dlog4j2.configurationFile=" + log4j);
    ChildJvm storage = ChildJvm.start("kafka-storage", dir, ChildJvm.testClasspath(), "256m", Map.of(), jvm,
        "kafka.tools.StorageTool", List.of("format", "-t", Uuid.randomUuid().toString(), "-c", config.toString(),
            "--standalone"));
    if (!storage.process.waitFor(120, TimeUnit.SECONDS) || storage.process.exitValue() != 0) {
      throw new AssertionError("formatting the broker's storage failed:\n" + storage.tail(40));
    }
    ChildJvm broker = ChildJvm.start("kafka", dir, ChildJvm.testClasspath(), "512m", Map.of(), jvm, "kafka.Kafka",
        List.of(config.toString()));
    long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (!listens(port)) {
      if (!broker.process.isAlive() || System.nanoTime() > end) {
        broker.close();
        throw new AssertionError("the broker did not start:\n" + broker.tail(40));
      }
      Thread.sleep(200);
    }
    return new KafkaBrokerProcess(port, broker);
  }

  String bootstrap() {
    return "127.0.0.1:" + port;
  }

  Properties client() {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap());
    return p;
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
